//! The short volume syntax `SRC:DST[:OPTS]` split as compose-go's
//! `format.ParseVolume` splits it. Merge needs the target (volumes are unique by
//! target), path resolution needs the source; the model builder can reuse it.

/// What a short volume string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeShort {
    /// The source (host path or volume name); empty for an anonymous volume.
    pub source: String,
    /// The path inside the container.
    pub target: String,
    /// The comma-separated options after the second colon, split.
    pub options: Vec<String>,
    /// Whether the source is a host path (starts with `.`, `/`, `~`, `\\` or `X:`).
    pub bind: bool,
}

/// Splits a short volume spec. `${…}` may contain colons; `C:` stays a drive.
pub fn parse_volume(spec: &str) -> Result<VolumeShort, String> {
    let mut v = VolumeShort {
        source: String::new(),
        target: String::new(),
        options: Vec::new(),
        bind: false,
    };
    match spec.chars().count() {
        0 => return Err("invalid empty volume spec".to_string()),
        1 | 2 => {
            v.target = spec.to_string();
            return Ok(v);
        }
        _ => {}
    }
    let mut buffer = String::new();
    let mut in_var = 0usize;
    let bytes = spec.as_bytes();
    for (i, c) in spec.char_indices() {
        if c == ':' && is_drive(&buffer) {
            buffer.push(c);
        } else if c == '$' && bytes.get(i + 1) == Some(&b'{') {
            in_var += 1;
            buffer.push(c);
        } else if c == '}' && in_var > 0 {
            in_var -= 1;
            buffer.push(c);
        } else if c == ':' && in_var == 0 {
            fill(&mut v, &buffer, false).map_err(|e| format!("invalid spec: {spec}: {e}"))?;
            buffer.clear();
        } else {
            buffer.push(c);
        }
    }
    fill(&mut v, &buffer, true).map_err(|e| format!("invalid spec: {spec}: {e}"))?;
    v.bind = is_file_path(&v.source);
    Ok(v)
}

fn is_drive(buffer: &str) -> bool {
    let mut it = buffer.chars();
    matches!((it.next(), it.next()), (Some(c), None) if c.is_alphabetic())
}

fn fill(v: &mut VolumeShort, buffer: &str, end: bool) -> Result<(), String> {
    if buffer.is_empty() {
        return Err("empty section between colons".to_string());
    }
    if v.source.is_empty() && end {
        v.target = buffer.to_string();
    } else if v.source.is_empty() {
        v.source = buffer.to_string();
    } else if v.target.is_empty() {
        v.target = buffer.to_string();
    } else if !end {
        return Err("too many colons".to_string());
    } else {
        v.options = buffer.split(',').map(str::to_string).collect();
    }
    Ok(())
}

/// Whether a short-syntax volume source is a host path rather than a volume name.
pub fn is_file_path(source: &str) -> bool {
    if source.starts_with(['.', '/', '~']) || source.starts_with("\\\\") {
        return true;
    }
    let mut it = source.chars();
    matches!((it.next(), it.next()), (Some(c), Some(':')) if c.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let v = parse_volume("./data:/var/lib:ro,z").unwrap();
        assert_eq!(
            (v.source.as_str(), v.target.as_str(), v.bind),
            ("./data", "/var/lib", true)
        );
        assert_eq!(v.options, vec!["ro", "z"]);
        let v = parse_volume("/data").unwrap();
        assert_eq!((v.source.as_str(), v.target.as_str()), ("", "/data"));
        let v = parse_volume("named:/x").unwrap();
        assert!(!v.bind);
        let v = parse_volume("${A:-/x}:/y").unwrap();
        assert_eq!(v.source, "${A:-/x}");
        let v = parse_volume("c:\\x:/y").unwrap();
        assert_eq!(v.source, "c:\\x");
        assert!(parse_volume("ab:cd:ef:gh").is_err());
        assert!(parse_volume("ab::cd").is_err());
    }
}
