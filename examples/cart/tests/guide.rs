//! docs/guide.md shows this crate's code: every `rust` block that names a region
//! (`// examples/cart/<file> (<region>)` as its first line) must equal that region of the file,
//! between `// guide:start <region>` and `// guide:end <region>`, and every region must be in
//! the guide. So the guide's code is compiled and run by these tests, never copied by hand.

use std::collections::BTreeMap;
use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// `(file, region) -> code` of every region in the crate's sources and tests.
fn regions() -> BTreeMap<(String, String), String> {
    let mut found = BTreeMap::new();
    for dir in ["src", "tests"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let file = format!(
                "examples/cart/{}",
                path.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
                    .unwrap()
                    .display()
            );
            let mut open: Option<(String, Vec<&str>)> = None;
            for line in text.lines() {
                let trimmed = line.trim();
                if let Some(name) = trimmed.strip_prefix("// guide:start ") {
                    open = Some((name.to_owned(), Vec::new()));
                } else if let Some(name) = trimmed.strip_prefix("// guide:end ") {
                    let (open_name, lines) = open.take().expect("end without start");
                    assert_eq!(open_name, name, "{file}: regions do not nest");
                    found.insert((file.clone(), open_name), lines.join("\n"));
                } else if let Some((_, lines)) = open.as_mut() {
                    lines.push(line);
                }
            }
        }
    }
    found
}

/// `(file, region) -> code` of every named `rust` block in the guide.
fn guide_blocks() -> BTreeMap<(String, String), String> {
    let guide = std::fs::read_to_string(workspace().join("docs/guide.md")).unwrap();
    let mut blocks = BTreeMap::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```rust" {
            continue;
        }
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let Some(name) = body
            .first()
            .and_then(|first| first.strip_prefix("// examples/cart/"))
        else {
            continue;
        };
        let (file, region) = name
            .rsplit_once(" (")
            .expect("`// examples/cart/<file> (<region>)`");
        let key = (
            format!("examples/cart/{file}"),
            region.trim_end_matches(')').to_owned(),
        );
        blocks.insert(key, body[1..].join("\n"));
    }
    blocks
}

#[test]
fn the_guides_code_is_this_crates_code() {
    let regions = regions();
    let blocks = guide_blocks();
    for (key, code) in &blocks {
        let source = regions
            .get(key)
            .unwrap_or_else(|| panic!("the guide names {key:?}, which no source marks"));
        assert_eq!(
            code, source,
            "the guide's copy of {key:?} differs from the source"
        );
    }
    for key in regions.keys() {
        assert!(
            blocks.contains_key(key),
            "{key:?} is marked in the source but not shown in the guide"
        );
    }
    assert!(blocks.len() >= 10, "the walk-through shows its code");
}
