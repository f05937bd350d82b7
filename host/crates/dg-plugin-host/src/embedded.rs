//! Custom sections of a component: where a plugin carries its API version
//! (written by the SDK) and its manifest (written by `plugin build`), so a
//! component file says what it is without a file beside it.

/// Custom section holding the plugin's `plugin.toml`, as built.
pub const MANIFEST_SECTION: &str = "dataguardian:manifest";

/// The data of the first custom section named `name`, searched through the
/// component and the core modules inside it.
pub fn read_section(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    wasmparser::Parser::new(0)
        .parse_all(wasm)
        .filter_map(Result::ok)
        .find_map(|payload| match payload {
            wasmparser::Payload::CustomSection(section) if section.name() == name => {
                Some(section.data().to_vec())
            }
            _ => None,
        })
}

/// The manifest built into `wasm`, if any.
pub fn manifest(wasm: &[u8]) -> Option<String> {
    read_section(wasm, MANIFEST_SECTION).and_then(|bytes| String::from_utf8(bytes).ok())
}

/// `wasm` with a custom section `name` holding `data` appended at the top
/// level. A component may carry custom sections anywhere, so appending
/// changes nothing it runs.
pub fn append_section(wasm: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(name.len() + data.len() + 5);
    leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut out = Vec::with_capacity(wasm.len() + body.len() + 6);
    out.extend_from_slice(wasm);
    out.push(0); // custom section id
    leb128(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

/// `wasm` without its top-level custom sections named `name` (so a rebuilt
/// manifest replaces the old one instead of following it).
pub fn strip_section(wasm: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(wasm.len());
    let mut depth = 0usize;
    let mut last = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::CustomSection(section) if depth == 1 && section.name() == name => {
                // The section's header (id and size) precedes its range.
                let range = section.range();
                let start = header_start(wasm, range.start, last);
                out.extend_from_slice(&wasm[last..start]);
                last = range.end;
            }
            _ => {}
        }
    }
    out.extend_from_slice(&wasm[last..]);
    out
}

/// Where the header of a section whose contents start at `contents` begins:
/// the id byte, then a LEB128 size ending right before `contents`.
fn header_start(wasm: &[u8], contents: usize, floor: usize) -> usize {
    let mut i = contents;
    // The size's last byte has its high bit clear, every earlier one set.
    if i > floor {
        i -= 1;
        while i > floor && wasm[i - 1] & 0x80 != 0 {
            i -= 1;
        }
    }
    i.saturating_sub(1).max(floor)
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty component: magic, component version 0x0d, layer 1.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn a_section_appended_is_read_back_and_can_be_replaced() {
        let one = append_section(EMPTY_COMPONENT, MANIFEST_SECTION, b"first");
        assert_eq!(manifest(&one).as_deref(), Some("first"));
        let big = "x".repeat(300);
        let replaced = append_section(
            &strip_section(&one, MANIFEST_SECTION),
            MANIFEST_SECTION,
            big.as_bytes(),
        );
        assert_eq!(manifest(&replaced).as_deref(), Some(big.as_str()));
        assert_eq!(strip_section(&replaced, MANIFEST_SECTION), EMPTY_COMPONENT);
        assert!(wasmparser::Parser::new(0)
            .parse_all(&replaced)
            .all(|p| p.is_ok()));
    }
}
