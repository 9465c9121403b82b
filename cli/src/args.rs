//! Value parsers and configuration helpers shared by the subcommands.

use rafka_core::Config;

/// A `key=value` flag value (`--header`, `--property`): the key must not be empty.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        None => Err(format!("'{s}' is not key=value")),
        Some((k, _)) if k.trim().is_empty() => Err(format!("'{s}' has an empty key")),
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
    }
}

/// Applies `k=v` pairs to a configuration, naming the pair that fails.
pub fn apply_props(config: &mut Config, props: &[String]) -> Result<(), String> {
    for p in props {
        let (k, v) = key_value(p)?;
        config.set(k.trim(), v.trim()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads a Java-style properties file (`k=v` lines, `#` comments).
pub fn read_properties(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| l.replacen(':', "=", if l.contains('=') { 0 } else { 1 }))
        .collect())
}
