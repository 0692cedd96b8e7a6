//! `${env:NAME}`, `${env:NAME:-default}` and `${file:/path}` in config values.
//!
//! Substitution happens on string values after YAML parsing, so a secret never has to be in the
//! file. A value that is exactly one placeholder is re-read as a YAML scalar, so `rate: ${env:RATE}`
//! can still be a number. `$${` writes a literal `${`.

use std::path::Path;

/// Looks up environment variables; a seam so tests do not touch the process environment.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The outcome of substituting one string.
#[derive(Debug, PartialEq)]
pub enum Substituted {
    /// No placeholder: keep the value as it was.
    Unchanged,
    /// The whole value was one placeholder; this is its text (re-read as a scalar).
    Whole(String),
    /// Placeholders inside a longer string.
    Text(String),
}

/// Substitutes placeholders in `text`. `base` resolves relative `${file:…}` paths.
pub fn substitute(text: &str, env: &dyn Env, base: &Path) -> Result<Substituted, String> {
    if !text.contains("${") {
        return Ok(Substituted::Unchanged);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut placeholders = 0;
    let mut literal = false;
    while let Some(pos) = rest.find("${") {
        if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            literal = true;
            continue;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after.find('}').ok_or_else(|| "unterminated placeholder: `${` without a closing `}`".to_string())?;
        out.push_str(&resolve(&after[..end], env, base)?);
        placeholders += 1;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let whole = placeholders == 1 && !literal && text.starts_with("${") && text.ends_with('}');
    Ok(if whole { Substituted::Whole(out) } else { Substituted::Text(out) })
}

fn resolve(inner: &str, env: &dyn Env, base: &Path) -> Result<String, String> {
    let (provider, arg) = inner
        .split_once(':')
        .ok_or_else(|| format!("placeholder `${{{inner}}}` needs a provider: `env:` or `file:`"))?;
    match provider {
        "env" => {
            let (name, default) = match arg.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (arg, None),
            };
            if name.is_empty() {
                return Err("`${env:}` needs a variable name".into());
            }
            match (env.var(name), default) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.to_owned()),
                (None, None) => Err(format!(
                    "environment variable `{name}` is not set (write `${{env:{name}:-default}}` for a default)"
                )),
            }
        }
        "file" => {
            let path = base.join(arg);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read `{}` for `${{file:{arg}}}`: {e}", path.display()))?;
            Ok(text.trim_end_matches(['\n', '\r']).to_owned())
        }
        other => Err(format!("unknown placeholder provider `{other}` (known: `env`, `file`)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn env() -> MapEnv {
        MapEnv(HashMap::from([("SECRET", "s3cr3t"), ("RATE", "250")]))
    }

    #[test]
    fn env_with_and_without_default() {
        let base = Path::new(".");
        assert_eq!(substitute("${env:SECRET}", &env(), base), Ok(Substituted::Whole("s3cr3t".into())));
        assert_eq!(substitute("${env:NOPE:-x}", &env(), base), Ok(Substituted::Whole("x".into())));
        assert_eq!(substitute("a-${env:RATE}-b", &env(), base), Ok(Substituted::Text("a-250-b".into())));
        assert_eq!(substitute("plain", &env(), base), Ok(Substituted::Unchanged));
        assert_eq!(substitute("$${env:RATE}", &env(), base), Ok(Substituted::Text("${env:RATE}".into())));
        let err = substitute("${env:NOPE}", &env(), base).unwrap_err();
        assert!(err.contains("environment variable `NOPE` is not set"), "{err}");
    }

    #[test]
    fn file_is_read_relative_to_base_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pw"), "topsecret\n").expect("write");
        assert_eq!(substitute("${file:pw}", &env(), dir.path()), Ok(Substituted::Whole("topsecret".into())));
        let err = substitute("${file:missing}", &env(), dir.path()).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn malformed_placeholders_are_named() {
        let base = Path::new(".");
        assert!(substitute("${env:X", &env(), base).unwrap_err().contains("unterminated"));
        assert!(substitute("${vault:x}", &env(), base).unwrap_err().contains("unknown placeholder provider `vault`"));
        assert!(substitute("${nothing}", &env(), base).unwrap_err().contains("needs a provider"));
    }
}
