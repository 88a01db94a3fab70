//! Connection URLs: telling a PostgreSQL one from a data directory, and
//! hiding its password in logs and errors.

/// Whether a `--database` value names PostgreSQL: a URL whose scheme is
/// `postgres://` or `postgresql://` (in any case). Anything else (a path)
/// is not.
pub fn is_postgres_url(value: &str) -> bool {
    let lower = value.get(..13).unwrap_or(value).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL with any password replaced by `***`, for logs and errors: the
/// password of the user info (`postgres://user:secret@host/db`), a
/// `password=` query parameter (`?password=secret`), and a `password=` key
/// of a key/value connection string (`host=db password=secret`).
pub fn redacted(url: &str) -> String {
    match url.find("://") {
        Some(at) => redact_url(url, at + 3),
        None => redact_keywords(url),
    }
}

/// A URL whose authority starts at `start`. The user info ends at the last
/// `@` before the query: a password with an unescaped `/` or `@` is hidden
/// whole all the same.
fn redact_url(url: &str, start: usize) -> String {
    let rest = &url[start..];
    let head_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..start]);
    let after_userinfo = match rest[..head_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str("***");
                }
                None => out.push_str(userinfo),
            }
            at
        }
        None => 0,
    };
    let tail = &rest[after_userinfo..];
    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            let query = &tail[q + 1..];
            let (query, fragment) = match query.find('#') {
                Some(h) => query.split_at(h),
                None => (query, ""),
            };
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
            out.push_str(fragment);
        }
        None => out.push_str(tail),
    }
    out
}

/// A key/value connection string (`host=… password=…`): each `password`
/// value (quoted or not) becomes `***`.
fn redact_keywords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = find_password_key(rest) {
        // `found` is the index just past `password`, optional spaces and `=`.
        out.push_str(&rest[..found]);
        let value = &rest[found..];
        let skipped = value.len() - value.trim_start().len();
        out.push_str(&value[..skipped]);
        let value = &value[skipped..];
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let mut close = quoted.len();
            for (i, c) in quoted.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '\'' => {
                        close = i;
                        break;
                    }
                    _ => {}
                }
            }
            (1 + close + 1).min(value.len())
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str("***");
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Where the value of the first `password` key in `text` starts.
fn find_password_key(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let start = from + i;
        let key_end = start + "password".len();
        let at_word = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
        let after = &text[key_end..];
        let spaces = after.len() - after.trim_start().len();
        if at_word && after[spaces..].starts_with('=') {
            return Some(key_end + spaces + 1);
        }
        from = key_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_from_paths() {
        assert!(is_postgres_url("postgres://postgres@127.0.0.1:5432/postgres"));
        assert!(is_postgres_url("postgresql://db/gridsync"));
        assert!(is_postgres_url("PostgreSQL://db/gridsync"));
        assert!(!is_postgres_url("/var/lib/gridsync"));
        assert!(!is_postgres_url("./postgres://"));
        assert!(!is_postgres_url("mysql://db"));
        assert!(!is_postgres_url(""));
        assert!(!is_postgres_url("数据"));
    }

    #[test]
    fn passwords_never_show() {
        let cases = [
            ("postgres://gs:s3cret@db:5432/gridsync", "postgres://gs:***@db:5432/gridsync"),
            (
                "postgresql://gs:p%40ss@db/gridsync?sslmode=require",
                "postgresql://gs:***@db/gridsync?sslmode=require",
            ),
            ("postgres://gs@db/gridsync", "postgres://gs@db/gridsync"),
            ("postgres://db", "postgres://db"),
            ("postgres://gs:a@b@db/x", "postgres://gs:***@db/x"),
            ("postgres://gs:s3/x@db/x", "postgres://gs:***@db/x"),
            (
                "postgres://db/x?user=gs&password=s3cret&sslmode=disable",
                "postgres://db/x?user=gs&password=***&sslmode=disable",
            ),
            ("host=db user=gs password=s3cret dbname=x", "host=db user=gs password=*** dbname=x"),
            ("host=db password = 's3 cret\\' x' dbname=x", "host=db password = *** dbname=x"),
            ("host=db mypassword=keep", "host=db mypassword=keep"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted(url), shown, "{url}");
            assert!(!redacted(url).contains("s3"), "{url}");
        }
    }
}
