//! A unified diff of a plan, for `--dry-run`.

use super::Plan;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Past this many cells the middle of the files is shown as removed and
/// added whole rather than aligned (an install changes one entry, so the
/// middle is small; this only bounds the work on odd inputs).
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Remove,
    Add,
}

/// The change `plan` makes as a unified diff (`--- PATH`, `+++ PATH`, `@@`
/// hunks with three lines of context); empty when it changes nothing. A new
/// file is shown against `/dev/null`.
pub fn diff(plan: &Plan) -> String {
    if !plan.changed {
        return String::new();
    }
    let path = plan.path.display();
    let old: Vec<&str> = plan
        .before
        .as_deref()
        .map_or_else(Vec::new, |t| t.split_inclusive('\n').collect());
    let new: Vec<&str> = plan.after.split_inclusive('\n').collect();
    let ops = align(&old, &new);
    let mut out = match plan.before {
        Some(_) => format!("--- {path}\n+++ {path}\n"),
        None => format!("--- /dev/null\n+++ {path}\n"),
    };
    // Walk the ops, cutting hunks where more than 2 × CONTEXT lines agree.
    let mut i = 0;
    while let Some(first) = ops[i..].iter().position(|op| *op != Op::Same) {
        let start = (i + first).saturating_sub(CONTEXT);
        let mut end = i + first;
        loop {
            let next_change = ops[end..].iter().position(|op| *op == Op::Same);
            end += next_change.unwrap_or(ops.len() - end);
            let same = ops[end..].iter().take_while(|op| **op == Op::Same).count();
            if end + same == ops.len() || same > 2 * CONTEXT {
                end = (end + CONTEXT).min(ops.len());
                break;
            }
            end += same;
        }
        hunk(&mut out, &ops, start, end, &old, &new);
        i = end;
    }
    out
}

fn hunk(out: &mut String, ops: &[Op], start: usize, end: usize, old: &[&str], new: &[&str]) {
    let count = |side: Op, upto: usize| ops[..upto].iter().filter(|op| **op != side).count();
    let (old_at, new_at) = (count(Op::Add, start), count(Op::Remove, start));
    let old_len = count(Op::Add, end) - old_at;
    let new_len = count(Op::Remove, end) - new_at;
    // An empty side names the line before it, as diff(1) does.
    let first = |at: usize, len: usize| if len == 0 { at } else { at + 1 };
    out.push_str(&format!(
        "@@ -{},{old_len} +{},{new_len} @@\n",
        first(old_at, old_len),
        first(new_at, new_len)
    ));
    let (mut o, mut n) = (old_at, new_at);
    for op in &ops[start..end] {
        let (mark, line) = match op {
            Op::Same => {
                o += 1;
                n += 1;
                (' ', old[o - 1])
            }
            Op::Remove => {
                o += 1;
                ('-', old[o - 1])
            }
            Op::Add => {
                n += 1;
                ('+', new[n - 1])
            }
        };
        out.push(mark);
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// The edit script turning `old` into `new`: the common prefix and suffix,
/// and a longest common subsequence of what lies between.
fn align(old: &[&str], new: &[&str]) -> Vec<Op> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (a, b) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut ops = vec![Op::Same; prefix];
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        ops.extend(std::iter::repeat_n(Op::Remove, a.len()));
        ops.extend(std::iter::repeat_n(Op::Add, b.len()));
    } else {
        // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
        let width = b.len() + 1;
        let mut lcs = vec![0u32; (a.len() + 1) * width];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i * width + j] = if a[i] == b[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                ops.push(Op::Same);
                i += 1;
                j += 1;
            } else if i < a.len()
                && (j == b.len() || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])
            {
                // Removals first, as diff(1) shows them.
                ops.push(Op::Remove);
                i += 1;
            } else {
                ops.push(Op::Add);
                j += 1;
            }
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
    ops
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn plan(before: Option<&str>, after: &str) -> Plan {
        Plan {
            path: PathBuf::from("f"),
            before: before.map(str::to_owned),
            after: after.to_owned(),
            changed: before != Some(after),
        }
    }

    #[test]
    fn unchanged_is_empty() {
        assert_eq!(diff(&plan(Some("a\n"), "a\n")), "");
    }

    #[test]
    fn new_file() {
        assert_eq!(
            diff(&plan(None, "a\nb\n")),
            "--- /dev/null\n+++ f\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }

    #[test]
    fn hunks_keep_three_lines_of_context() {
        let before: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let after = before
            .replacen("5\n", "five\n", 1)
            .replace("18\n", "18\nnew\n");
        assert_eq!(
            diff(&plan(Some(&before), &after)),
            "--- f\n+++ f\n\
             @@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n\
             @@ -16,5 +16,6 @@\n 16\n 17\n 18\n+new\n 19\n 20\n"
        );
    }

    #[test]
    fn close_changes_share_a_hunk_and_missing_newline_is_marked() {
        let d = diff(&plan(Some("a\nb\nc\nd"), "A\nb\nc\nD"));
        assert_eq!(
            d,
            "--- f\n+++ f\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n-d\n\\ No newline at end of file\n+D\n\\ No newline at end of file\n"
        );
    }
}
