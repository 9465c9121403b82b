//! Small flag parsing shared by the subcommands: `--flag value`, repeatable flags, and `k=v` pairs.

use rafka_core::Config;

pub struct Args {
    items: Vec<String>,
}

impl Args {
    pub fn new(argv: &[String]) -> Args {
        Args { items: argv.to_vec() }
    }

    /// Takes every value of `--name V` (and `--name=V`), removing them.
    pub fn take_all(&mut self, name: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.items.len() {
            if self.items[i] == name {
                if i + 1 >= self.items.len() {
                    return Err(format!("{name} needs a value"));
                }
                out.push(self.items.remove(i + 1));
                self.items.remove(i);
            } else if let Some(v) = self.items[i].strip_prefix(&format!("{name}=")) {
                out.push(v.to_string());
                self.items.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(out)
    }

    pub fn take(&mut self, name: &str) -> Result<Option<String>, String> {
        let mut v = self.take_all(name)?;
        if v.len() > 1 {
            return Err(format!("{name} given {} times", v.len()));
        }
        Ok(v.pop())
    }

    pub fn require(&mut self, name: &str) -> Result<String, String> {
        self.take(name)?.ok_or_else(|| format!("{name} is required"))
    }

    /// Takes `--name` followed by every value up to the next flag (`--producer-props a=b c=d`).
    pub fn take_list(&mut self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(i) = self.items.iter().position(|a| a == name) {
            self.items.remove(i);
            while i < self.items.len() && !self.items[i].starts_with("--") {
                out.push(self.items.remove(i));
            }
        }
        out
    }

    pub fn flag(&mut self, name: &str) -> bool {
        match self.items.iter().position(|a| a == name) {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// Fails on anything not taken.
    pub fn finish(self) -> Result<(), String> {
        match self.items.first() {
            None => Ok(()),
            Some(a) => Err(format!("unexpected argument '{a}'")),
        }
    }
}

pub fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| format!("{name} must be a number, got '{v}'"))
}

/// Applies `k=v` pairs to a configuration, naming the pair that fails.
pub fn apply_props(config: &mut Config, props: &[String]) -> Result<(), String> {
    for p in props {
        let (k, v) = p.split_once('=').ok_or_else(|| format!("'{p}' is not key=value"))?;
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
