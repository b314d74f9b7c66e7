//! The queues' wrap-up times, read from the node's `queues.conf` (AMI answers `QueueStatus`
//! without them, and `GetConfig` needs the `config` class, which the engine's AMI user does
//! not have). The file is only read, never written.
//!
//! [`wrapup_times`] parses Asterisk's configuration syntax as far as `wrapuptime` needs:
//! categories `[name]`, templates `[name](!)`, categories built on templates
//! `[name](t1,t2)` (the templates' variables first, in order, then the category's own: the
//! last value wins, as app_queue applies them), additions `[name](+)`, `key = value` and
//! `key => value`, `;` comments (`\;` is a semicolon) and `;-- ... --;` blocks. `#include`
//! and `#exec` lines are skipped: a queue defined in an included file is not known (its
//! wrap-up time is unknown).

use std::collections::HashMap;
use std::path::Path;

/// One category as written: its templates and its variables, in order.
#[derive(Debug, Default)]
struct Category {
    template: bool,
    bases: Vec<String>,
    vars: Vec<(String, String)>,
}

/// The line without its comment (`;` up to the end; `\;` is kept as `;`), and whether a
/// `;--` block comment starts here and does not end on the line.
fn strip_comment(line: &str, in_block: &mut bool) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        if *in_block {
            match rest.find("--;") {
                Some(i) => {
                    *in_block = false;
                    rest = &rest[i + 3..];
                }
                None => return out,
            }
        }
        let mut chars = rest.char_indices().peekable();
        let mut cut = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if rest[i + 1..].starts_with(';') => {
                    out.push(';');
                    chars.next();
                }
                ';' => {
                    cut = Some(i);
                    break;
                }
                c => out.push(c),
            }
        }
        match cut {
            None => return out,
            Some(i) if rest[i..].starts_with(";--") => {
                *in_block = true;
                rest = &rest[i + 3..];
            }
            Some(_) => return out,
        }
    }
}

/// The categories of a configuration text, by name, in the order they first appear.
fn categories(text: &str) -> Vec<(String, Category)> {
    let mut out: Vec<(String, Category)> = Vec::new();
    let mut current: Option<usize> = None;
    let mut in_block = false;
    for raw in text.lines() {
        let line = strip_comment(raw, &mut in_block);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((name, after)) = rest.split_once(']') else {
                current = None;
                continue;
            };
            let name = name.trim().to_owned();
            let options: Vec<String> = after
                .trim()
                .strip_prefix('(')
                .and_then(|o| o.strip_suffix(')'))
                .map(|o| o.split(',').map(|s| s.trim().to_owned()).collect())
                .unwrap_or_default();
            if options.iter().any(|o| o == "+") {
                current = out.iter().rposition(|(n, _)| *n == name);
                if current.is_some() {
                    continue;
                }
            }
            let mut cat = Category::default();
            for o in options {
                match o.as_str() {
                    "!" => cat.template = true,
                    "+" | "" => {}
                    base => cat.bases.push(base.to_owned()),
                }
            }
            out.push((name, cat));
            current = Some(out.len() - 1);
        } else if let Some(i) = current {
            let (key, value) = match line.split_once("=>").or_else(|| line.split_once('=')) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => continue,
            };
            out[i]
                .1
                .vars
                .push((key.to_ascii_lowercase(), value.to_owned()));
        }
    }
    out
}

/// The last value of `key` for category `index`, templates first, own variables last.
fn lookup(cats: &[(String, Category)], index: usize, key: &str, depth: usize) -> Option<String> {
    let (_, cat) = &cats[index];
    if let Some((_, v)) = cat.vars.iter().rev().find(|(k, _)| k == key) {
        return Some(v.clone());
    }
    if depth > 16 {
        return None;
    }
    cat.bases.iter().rev().find_map(|base| {
        let i = cats[..index].iter().rposition(|(n, _)| n == base)?;
        lookup(cats, i, key, depth + 1)
    })
}

/// Each queue's `wrapuptime` in seconds (0 when it sets none, Asterisk's default; a value that
/// is not a number counts as 0, as app_queue reads it). Templates and `[general]` are not
/// queues.
pub fn wrapup_times(text: &str) -> HashMap<String, u32> {
    let cats = categories(text);
    cats.iter()
        .enumerate()
        .filter(|(_, (name, cat))| !cat.template && name != "general")
        .map(|(i, (name, _))| {
            let secs = lookup(&cats, i, "wrapuptime", 0)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            (name.clone(), secs)
        })
        .collect()
}

/// Reads `path` and parses its wrap-up times.
pub async fn read_wrapup_times(path: &Path) -> std::io::Result<HashMap<String, u32>> {
    Ok(wrapup_times(&tokio::fs::read_to_string(path).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_queues_conf() {
        let text = include_str!("../../asterisk-config/queues.conf");
        let w = wrapup_times(text);
        let mut got: Vec<(&str, u32)> = w.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("q_campanas", 2),
                ("q_cobranza", 10),
                ("q_soporte", 15),
                ("q_ventas", 10)
            ]
        );
    }

    #[test]
    fn templates_additions_and_comments() {
        let text = "\
[general]
wrapuptime = 99
[base](!)
wrapuptime=5 ; a comment
[other](!)
wrapuptime => 7
[q_both](base,other)
[q_own](base)
wrapuptime = 12
[q_none]
strategy = ringall
[q_bad](base)
wrapuptime = soon
[q_added]
strategy = rrmemory
[q_added](+)
wrapuptime = 20
;-- a block
[q_hidden]
wrapuptime = 1
--;
[q_semi]
musicclass = a\\;b
wrapuptime = 3;4
#include more_queues.conf
[q_after_include](base)
";
        let w = wrapup_times(text);
        let want: HashMap<String, u32> = [
            ("q_both", 7),
            ("q_own", 12),
            ("q_none", 0),
            ("q_bad", 0),
            ("q_added", 20),
            ("q_semi", 3),
            ("q_after_include", 5),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        assert_eq!(w, want);
    }
}
