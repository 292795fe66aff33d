//! Parser of thinbox's text profile format (see default.profile). Needs std:
//! build.rs and the tests use it; the binary only sees the tables build.rs
//! makes from it.

use super::bpf::{self, Cond};
use std::string::{String, ToString};
use std::vec::Vec;

/// Capability names without "CAP_", in bit order.
pub const CAP_NAMES: &[u8] = b"CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID \
SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK \
IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE \
SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP \
MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF \
CHECKPOINT_RESTORE";

/// The bit of a capability name ("SYS_ADMIN", without "CAP_").
pub fn cap_bit(name: &[u8]) -> Option<u32> {
    CAP_NAMES
        .split(|&c| c == b' ')
        .position(|n| n == name)
        .map(|i| i as u32)
}

pub struct Rule {
    pub act: u32,
    /// Capability bits that must all be present / must all be absent.
    pub with_caps: Vec<u32>,
    pub without_caps: Vec<u32>,
    /// Host arches (Go names) the rule is only for / never for.
    pub on_arches: Vec<String>,
    pub not_arches: Vec<String>,
    pub conds: Vec<Cond>,
    pub names: Vec<String>,
}

pub struct Profile {
    pub default: u32,
    pub rules: Vec<Rule>,
}

impl Rule {
    /// Docker's includes/excludes for a host arch and bounding set.
    pub fn applies(&self, host: &str, caps: u64) -> bool {
        (self.on_arches.is_empty() || self.on_arches.iter().any(|a| a == host))
            && !self.not_arches.iter().any(|a| a == host)
            && self.with_caps.iter().all(|&c| caps >> c & 1 != 0)
            && !self.without_caps.iter().any(|&c| caps >> c & 1 != 0)
    }
}

pub fn action(s: &str) -> Result<u32, String> {
    let (name, data) = match s.split_once(':') {
        Some((n, d)) => (n, Some(num(d)? as u32 & 0xffff)),
        None => (s, None),
    };
    let act = match (name, data) {
        ("allow", None) => bpf::RET_ALLOW,
        ("errno", Some(e)) => bpf::RET_ERRNO | e,
        ("kill" | "kill_thread", None) => bpf::RET_KILL_THREAD,
        ("kill_process", None) => bpf::RET_KILL_PROCESS,
        ("trap", None) => bpf::RET_TRAP,
        ("trace", Some(e)) => bpf::RET_TRACE | e,
        ("log", None) => bpf::RET_LOG,
        _ => return Err(format!("unknown action '{s}'")),
    };
    Ok(act)
}

fn num(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("bad number '{s}'"))
}

/// "ARG OP VALUE" or "ARG&MASK==VALUE".
pub fn cond(s: &str) -> Result<Cond, String> {
    let bad = || format!("bad condition '{s}'");
    let arg = s
        .as_bytes()
        .first()
        .filter(|c| (b'0'..=b'5').contains(c))
        .ok_or_else(bad)?
        - b'0';
    let rest = &s[1..];
    if let Some(r) = rest.strip_prefix('&') {
        let (m, v) = r.split_once("==").ok_or_else(bad)?;
        return Ok(Cond {
            arg,
            op: bpf::MASKED_EQ,
            a: num(m)?,
            b: num(v)?,
        });
    }
    for (tok, op) in [
        ("==", bpf::EQ),
        ("!=", bpf::NE),
        ("<=", bpf::LE),
        (">=", bpf::GE),
        ("<", bpf::LT),
        (">", bpf::GT),
    ] {
        if let Some(v) = rest.strip_prefix(tok) {
            return Ok(Cond {
                arg,
                op,
                a: num(v)?,
                b: 0,
            });
        }
    }
    Err(bad())
}

pub fn parse(text: &str) -> Result<Profile, String> {
    let mut toks = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        toks.extend(line.split_whitespace());
    }
    let mut p = Profile {
        default: bpf::RET_KILL_PROCESS,
        rules: Vec::new(),
    };
    let mut saw_default = false;
    for rule in toks.split(|t| *t == ";") {
        let Some((&head, rest)) = rule.split_first() else {
            continue;
        };
        if head == "default" {
            p.default = action(rest.first().ok_or("default: missing action")?)?;
            saw_default = true;
            continue;
        }
        let colon = rest
            .iter()
            .position(|t| *t == ":")
            .ok_or_else(|| format!("rule '{head} ...': missing ':'"))?;
        let mut r = Rule {
            act: action(head)?,
            with_caps: Vec::new(),
            without_caps: Vec::new(),
            on_arches: Vec::new(),
            not_arches: Vec::new(),
            conds: Vec::new(),
            names: rest[colon + 1..].iter().map(|s| s.to_string()).collect(),
        };
        for &t in &rest[..colon] {
            let cap =
                |c: &str| cap_bit(c.as_bytes()).ok_or_else(|| format!("unknown capability '{c}'"));
            match t.as_bytes()[0] {
                b'+' => r.with_caps.push(cap(&t[1..])?),
                b'-' => r.without_caps.push(cap(&t[1..])?),
                b'@' => r.on_arches.push(t[1..].to_string()),
                b'!' => r.not_arches.push(t[1..].to_string()),
                _ => r.conds.push(cond(t)?),
            }
        }
        p.rules.push(r);
    }
    if !saw_default {
        return Err("missing 'default ACTION ;'".into());
    }
    Ok(p)
}
