//! Splits a SQL file into statements for engines that take one statement per request
//! (ClickHouse's HTTP interface). Semicolons inside quotes and comments do not split.

pub fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                current.push(c);
                while let Some(q) = chars.next() {
                    current.push(q);
                    if q == '\\' {
                        if let Some(escaped) = chars.next() {
                            current.push(escaped);
                        }
                    } else if q == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                // A line comment: dropped.
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        current.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for skipped in chars.by_ref() {
                    if prev == '*' && skipped == '/' {
                        break;
                    }
                    prev = skipped;
                }
                current.push(' ');
            }
            ';' => push(&mut statements, &mut current),
            _ => current.push(c),
        }
    }
    push(&mut statements, &mut current);
    statements
}

fn push(statements: &mut Vec<String>, current: &mut String) {
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let sql = "-- a; comment\nCREATE TABLE a (x String DEFAULT ';');\n/* b; */ SELECT 'it''s; \\';' ;\n\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE a (x String DEFAULT ';')".to_string(),
                "SELECT 'it''s; \\';'".to_string(),
            ]
        );
    }

    #[test]
    fn empty_input_has_no_statements() {
        assert!(split_statements("  -- only a comment\n").is_empty());
    }
}
