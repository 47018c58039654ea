//! What a role that may not see identifiers gets instead of them: every
//! identity number in any string leaving the server becomes its handle
//! (`~…`, [`crate::auth::Auth::handle`]) and every mobile number is masked
//! (`138****5678`) — found by shape, not by field, so free text (an alarm's
//! note, a photo's URL, a visitor's name typed at a gate) cannot carry one
//! out: glued to letters (`ID3209…0123.jpg`, `tel13912345678`), with a
//! country code (`+86 139…`, `0086-139…`) or written in groups
//! (`139 1234 5678`, `139-1234-5678`, `320902 19800101 1234`).
//!
//! Numbers of other lengths are left alone (a 20-digit device id, a
//! 14-digit GA/T time), and a number is never cut out of a longer run of
//! digits.

use crate::auth::Auth;

/// Characters that may stand between the groups of one written number.
fn is_group_sep(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.')
}

/// A run of ASCII digits (with an identity number's check character `X`
/// after 17 of them), as byte offsets into the text.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
}

/// How the groups of a number written in parts may be sized.
const MOBILE_GROUPS: &[&[usize]] = &[&[3, 4, 4], &[3, 8], &[7, 4]];
const ID_GROUPS: &[&[usize]] = &[&[6, 8, 4], &[6, 4, 4, 4]];

fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

fn is_id_number(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
}

/// `13812345678` → `138****5678`.
fn masked_mobile(d: &str) -> String {
    crate::scope::mask(d, 3, 4)
}

/// The digit runs of `s`, in order.
fn runs(s: &str) -> Vec<Run> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // an identity number's check character
        if i - start == 17 && i < b.len() && (b[i] == b'X' || b[i] == b'x') {
            i += 1;
        }
        out.push(Run { start, end: i });
    }
    out
}

/// A replacement of `text[start..end]`.
struct Cut {
    start: usize,
    end: usize,
    with: String,
}

/// What one maximal digit run is, alone: an identity number, a mobile, or
/// a mobile behind a glued country code (`8613912345678`).
fn alone(auth: &Auth, s: &str, r: Run) -> Option<Cut> {
    let d = &s[r.start..r.end];
    if is_id_number(d) {
        return Some(Cut {
            start: r.start,
            end: r.end,
            with: auth.handle(d),
        });
    }
    if is_mobile(d) {
        return Some(Cut {
            start: r.start,
            end: r.end,
            with: masked_mobile(d),
        });
    }
    for cc in ["86", "0086"] {
        if let Some(rest) = d.strip_prefix(cc)
            && is_mobile(rest)
        {
            let start = r.start + cc.len();
            return Some(Cut {
                start,
                end: r.end,
                with: masked_mobile(rest),
            });
        }
    }
    None
}

/// Runs `rs` written as the groups of one number: separated by one
/// separator each, sized as `shape`.
fn grouped(s: &str, rs: &[Run], shape: &[usize]) -> Option<String> {
    if rs.len() != shape.len() {
        return None;
    }
    let b = s.as_bytes();
    let mut digits = String::new();
    for (k, (r, want)) in rs.iter().zip(shape).enumerate() {
        if r.end - r.start != *want {
            return None;
        }
        if k > 0 {
            let prev = rs[k - 1];
            if r.start != prev.end + 1 || !is_group_sep(b[prev.end]) {
                return None;
            }
        }
        digits.push_str(&s[r.start..r.end]);
    }
    Some(digits)
}

/// Identity numbers to handles and mobiles masked, anywhere in `s` (see
/// the module's doc).
pub fn mask_text(auth: &Auth, s: &str) -> String {
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return s.to_owned();
    }
    let rs = runs(s);
    let mut cuts: Vec<Cut> = Vec::new();
    let mut i = 0;
    'runs: while i < rs.len() {
        // a number written in groups (the longest shapes first)
        for shape in ID_GROUPS.iter().chain(MOBILE_GROUPS) {
            let n = shape.len();
            if i + n > rs.len() {
                continue;
            }
            // the groups must not continue a longer run of digits (a
            // country code before a mobile's may)
            let before_ok = i == 0
                || !joined(s, rs[i - 1], rs[i])
                || matches!(&s[rs[i - 1].start..rs[i - 1].end], "86" | "0086");
            let after_ok = i + n == rs.len() || !joined(s, rs[i + n - 1], rs[i + n]);
            if !(before_ok && after_ok) {
                continue;
            }
            if let Some(d) = grouped(s, &rs[i..i + n], shape) {
                let with = if is_id_number(&d) {
                    auth.handle(&d)
                } else if is_mobile(&d) {
                    masked_mobile(&d)
                } else {
                    continue;
                };
                cuts.push(Cut {
                    start: rs[i].start,
                    end: rs[i + n - 1].end,
                    with,
                });
                i += n;
                continue 'runs;
            }
        }
        if let Some(c) = alone(auth, s, rs[i]) {
            cuts.push(c);
        }
        i += 1;
    }
    if cuts.is_empty() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for c in cuts {
        out.push_str(&s[at..c.start]);
        out.push_str(&c.with);
        at = c.end;
    }
    out.push_str(&s[at..]);
    out
}

/// Whether two runs are groups of one written number (one separator apart).
fn joined(s: &str, a: Run, b: Run) -> bool {
    b.start == a.end + 1 && is_group_sep(s.as_bytes()[a.end])
}

/// A handle standing alone as a value — `~…` or `kind:~…` — turned back
/// into the identifier it stands for; anything else (a handle inside other
/// text among it) is left as it is.
pub fn decode_whole(auth: &Auth, s: &str) -> Option<String> {
    let (prefix, h) = match s.split_once(':') {
        Some((kind, h)) if h.starts_with('~') && model::NodeKind::parse(kind).is_some() => {
            (Some(kind), h)
        }
        _ if s.starts_with('~') => (None, s),
        _ => return None,
    };
    let id = auth.unhandle(h)?;
    Some(match prefix {
        Some(k) => format!("{k}:{id}"),
        None => id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (tempfile::TempDir, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let a = Auth::open(dir.path()).unwrap();
        (dir, a)
    }

    const ID: &str = "320902195501011234";
    const MOBILE: &str = "13912345678";

    #[test]
    fn numbers_in_every_shape_are_masked() {
        let (_d, a) = auth();
        let h = a.handle(ID);
        for (input, want) in [
            (format!("person:{ID}"), format!("person:{h}")),
            (format!("张伟{ID}"), format!("张伟{h}")),
            (
                format!("http://x/ID{ID}.jpg"),
                format!("http://x/ID{h}.jpg"),
            ),
            (format!("idcard{ID}"), format!("idcard{h}")),
            ("320902 19550101 1234".into(), h.clone()),
            ("3209021955010112 3X".into(), "3209021955010112 3X".into()),
            (format!("tel{MOBILE}"), "tel139****5678".into()),
            ("+86 139 1234 5678".into(), "+86 139****5678".into()),
            ("+86-13912345678".into(), "+86-139****5678".into()),
            ("008613912345678".into(), "0086139****5678".into()),
            ("8613912345678".into(), "86139****5678".into()),
            ("139-1234-5678".into(), "139****5678".into()),
            ("139 12345678".into(), "139****5678".into()),
            ("电话：139.1234.5678。".into(), "电话：139****5678。".into()),
        ] {
            assert_eq!(mask_text(&a, &input), want, "{input}");
        }
        let x = mask_text(&a, "ID11010519491231002X.png");
        assert!(!x.contains("11010519491231002X"), "{x}");
    }

    #[test]
    fn other_numbers_are_left_alone() {
        let (_d, a) = auth();
        for s in [
            "32090200001310000012",
            "32090200001310000012-20261120073105-0001",
            "2026-11-20T07:31:05+08:00",
            "浙A7C777",
            "1234 5678",
            "12345678901",
            "139123456789",
            "v1.2.3",
        ] {
            assert_eq!(mask_text(&a, s), s);
        }
    }

    #[test]
    fn only_a_whole_handle_is_decoded() {
        let (_d, a) = auth();
        let h = a.handle(ID);
        assert_eq!(decode_whole(&a, &h).as_deref(), Some(ID));
        assert_eq!(
            decode_whole(&a, &format!("person:{h}")).as_deref(),
            Some(format!("person:{ID}").as_str())
        );
        assert_eq!(decode_whole(&a, &format!("ID{h}")), None);
        assert_eq!(decode_whole(&a, &format!("x{h}")), None);
        assert_eq!(decode_whole(&a, &format!("nokind:{h}")), None);
        assert_eq!(decode_whole(&a, "~notahandle"), None);
    }
}
