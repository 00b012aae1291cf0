//! `parse_user_agent(ua) -> struct<browser, browser_version, os, os_version, device_type>`.
//!
//! Browser and OS come from uap-core's rules (the ones the Python `ua-parser` package uses),
//! shipped in `data/uap-core-regexes.json` (written by `scripts/convert-uap-regexes.py` from
//! the PyPI package ua-parser-builtins) and embedded at build time. The rules are compiled once
//! per process, on first use, and each distinct agent is parsed once per process: the results
//! are kept in a bounded cache shared by every batch and thread (`agent_cache.rs`).
//!
//! - `browser`, `os`: the uap-core family ("Chrome", "Mac OS X", …), "Other" when no rule
//!   matches; versions are "major.minor.patch" (up to the first missing part), null if none.
//! - `device_type`: "bot" (uap-core's Spider devices), "tablet", "mobile", "desktop" or
//!   "other", from the device rules, the OS family and the "Mobile"/"Tablet"/"iPad" tokens.
//! - eventsim's agents are quoted strings: surrounding double quotes are ignored.
//! - Null in, null out (the whole struct).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use foldhash::fast::FixedState;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray, StructArray, UInt32Array};
use arrow_cast::cast;
use arrow_schema::ArrowError;
use arrow_schema::{DataType, Field, Fields};
use arrow_select::take::take;
use regex::{Captures, Regex, RegexBuilder};
use serde_json::Value;

use crate::agent_cache::AgentCache;

/// uap-core's rules, as converted by `scripts/convert-uap-regexes.py`.
const RULES_JSON: &str = include_str!("../data/uap-core-regexes.json");
/// The compiled-size limit of one rule: some rules have bounded repetitions of `.` (Unicode).
const REGEX_SIZE_LIMIT: usize = 64 << 20;
/// The family of a browser, OS or device that no rule recognizes.
pub const OTHER: &str = "Other";

/// The names of the result's fields, in order.
pub const FIELDS: [&str; 5] = [
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device_type",
];

/// OS families of phones and tablets.
const MOBILE_OS: [&str; 8] = [
    "iOS",
    "Android",
    "Windows Phone",
    "BlackBerry OS",
    "Symbian OS",
    "Firefox OS",
    "KaiOS",
    "webOS",
];
/// OS families of desktop and laptop computers.
const DESKTOP_OS: [&str; 12] = [
    "Windows",
    "Mac OS X",
    "Linux",
    "Ubuntu",
    "Chrome OS",
    "Fedora",
    "Debian",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
    "Mac OS",
];

/// A uap-core rule: its regex and the replacement templates of its fields (None: the default).
struct Rule {
    regex: Regex,
    fields: [Option<String>; 5],
}

/// Every rule, compiled.
struct Rules {
    user_agent: Vec<Rule>,
    os: Vec<Rule>,
    /// The device rules whose family is "Spider" (all that `device_type` needs of them).
    spiders: Vec<Regex>,
    /// Rules whose regex the `regex` crate cannot compile (uap-core is written for many engines).
    skipped: Vec<String>,
}

static RULES: LazyLock<Rules> = LazyLock::new(load_rules);
/// Every agent parsed in this process (bounded), keyed by the string as given.
static PARSED: LazyLock<AgentCache<Parsed>> = LazyLock::new(AgentCache::new);

fn load_rules() -> Rules {
    let document: Value = serde_json::from_str(RULES_JSON).expect("data/uap-core-regexes.json");
    let mut skipped = Vec::new();
    let mut compile = |pattern: &str, case_insensitive: bool| {
        let built = RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .build();
        built.map_err(|_| skipped.push(pattern.to_owned())).ok()
    };
    let rows = |key: &str| -> Vec<Vec<Option<String>>> {
        let rows = document[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        rows.iter()
            .map(|row| {
                let cells = row.as_array().map(Vec::as_slice).unwrap_or_default();
                cells
                    .iter()
                    .map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .collect()
    };
    let mut rules = |key: &str| -> Vec<Rule> {
        rows(key)
            .into_iter()
            .filter_map(|row| {
                let regex = compile(row.first()?.as_deref()?, false)?;
                let field = |i: usize| row.get(i).cloned().flatten();
                Some(Rule {
                    regex,
                    fields: [field(1), field(2), field(3), field(4), field(5)],
                })
            })
            .collect()
    };
    let (user_agent, os) = (rules("user_agent"), rules("os"));
    let spiders = rows("device")
        .into_iter()
        .filter(|row| row.get(2).cloned().flatten().as_deref() == Some("Spider"))
        .filter_map(|row| {
            let case_insensitive = row.get(1).cloned().flatten().as_deref() == Some("i");
            compile(row.first()?.as_deref()?, case_insensitive)
        })
        .collect();
    Rules {
        user_agent,
        os,
        spiders,
        skipped,
    }
}

/// The number of uap-core rules compiled and of those skipped (for tests and diagnostics).
pub fn rule_counts() -> (usize, usize) {
    let rules = &*RULES;
    (
        rules.user_agent.len() + rules.os.len() + rules.spiders.len(),
        rules.skipped.len(),
    )
}

/// One parsed user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub browser: String,
    pub browser_version: Option<String>,
    pub os: String,
    pub os_version: Option<String>,
    pub device_type: &'static str,
}

/// Parses one user agent string (surrounding double quotes ignored).
pub fn parse(ua: &str) -> Parsed {
    let ua = ua.trim().trim_matches('"');
    let rules = &*RULES;
    let (browser, browser_version) = rules
        .user_agent
        .iter()
        .find_map(|rule| rule.regex.captures(ua).map(|m| browser_of(rule, &m)))
        .unwrap_or_else(|| (OTHER.to_owned(), None));
    let (os, os_version) = rules
        .os
        .iter()
        .find_map(|rule| rule.regex.captures(ua).map(|m| os_of(rule, &m)))
        .unwrap_or_else(|| (OTHER.to_owned(), None));
    let device_type = device_type(ua, &os, rules);
    Parsed {
        browser,
        browser_version,
        os,
        os_version,
        device_type,
    }
}

/// uap-core's user-agent semantics: the family replaces "$1" only; versions are literal
/// replacements or groups 2 to 5.
fn browser_of(rule: &Rule, m: &Captures<'_>) -> (String, Option<String>) {
    let group1 = m.get(1).map_or("", |g| g.as_str());
    let family = match &rule.fields[0] {
        Some(template) if template.contains("$1") => template.replace("$1", group1),
        Some(literal) => literal.clone(),
        None => group1.to_owned(),
    };
    let parts: [Option<String>; 4] = std::array::from_fn(|i| match &rule.fields[i + 1] {
        Some(literal) => Some(literal.clone()),
        None => m
            .get(i + 2)
            .map(|g| g.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    });
    (non_empty_family(family), version(&parts[..3]))
}

/// uap-core's OS semantics: every field is a template ("$1" … "$5" by default), its groups
/// substituted, trimmed, empty meaning none.
fn os_of(rule: &Rule, m: &Captures<'_>) -> (String, Option<String>) {
    let defaults = ["$1", "$2", "$3", "$4", "$5"];
    let parts: [Option<String>; 5] =
        std::array::from_fn(|i| expand(rule.fields[i].as_deref().unwrap_or(defaults[i]), m));
    let [family, major, minor, patch, patch_minor] = parts;
    (
        non_empty_family(family.unwrap_or_default()),
        version(&[major, minor, patch, patch_minor]),
    )
}

/// `template` with `$1`…`$9` replaced by the groups (a missing group by ""), trimmed.
fn expand(template: &str, m: &Captures<'_>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(n)) => {
                chars.next();
                out.push_str(m.get(n as usize).map_or("", |g| g.as_str()));
            }
            _ => out.push(c),
        }
    }
    let trimmed = out.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn non_empty_family(family: String) -> String {
    if family.trim().is_empty() {
        OTHER.to_owned()
    } else {
        family
    }
}

/// "major.minor.patch…" up to the first missing part; None without a major version.
fn version(parts: &[Option<String>]) -> Option<String> {
    let present: Vec<&str> = parts.iter().map_while(|p| p.as_deref()).collect();
    (!present.is_empty()).then(|| present.join("."))
}

fn device_type(ua: &str, os: &str, rules: &Rules) -> &'static str {
    if rules.spiders.iter().any(|spider| spider.is_match(ua)) {
        "bot"
    } else if ua.contains("iPad")
        || ua.contains("Tablet")
        || (os == "Android" && !ua.contains("Mobile"))
    {
        "tablet"
    } else if MOBILE_OS.contains(&os) || ua.contains("Mobile") {
        "mobile"
    } else if DESKTOP_OS.contains(&os) {
        "desktop"
    } else {
        "other"
    }
}

/// The Arrow type of the result: a struct of five nullable strings.
pub fn result_fields() -> Fields {
    FIELDS
        .iter()
        .map(|name| Field::new(*name, DataType::Utf8, true))
        .collect()
}

/// `parse_user_agent` over a string array (`Utf8`, `LargeUtf8`, `Utf8View` or `Null`).
pub fn parse_user_agent(agents: &dyn Array) -> Result<ArrayRef, ArrowError> {
    let agents = match agents.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            cast(agents, &DataType::Utf8)?
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "parse_user_agent takes strings, got an array of {other}"
            )))
        }
    };
    parse_strings(agents.as_string::<i32>())
}

fn parse_strings(agents: &StringArray) -> Result<ArrayRef, ArrowError> {
    // The batch's distinct agents, each looked up once in the process-wide cache (one lock per
    // distinct agent, not per row), and each row's index among them.
    let mut seen: HashMap<&str, u32, FixedState> = HashMap::default();
    let mut distinct: Vec<Arc<Parsed>> = Vec::new();
    let mut indices: Vec<u32> = Vec::with_capacity(agents.len());
    for agent in agents.iter() {
        let Some(agent) = agent else {
            indices.push(0); // masked by the null below
            continue;
        };
        let index = *seen.entry(agent).or_insert_with(|| {
            distinct.push(PARSED.get_or_insert_with(agent, || parse(agent)));
            // At most one distinct agent per row, and a batch has fewer than 2^32 rows.
            u32::try_from(distinct.len() - 1).unwrap_or(u32::MAX)
        });
        indices.push(index);
    }
    let indices = UInt32Array::new(indices.into(), agents.nulls().cloned());
    // The result: the distinct agents' fields, taken row by row.
    take(&distinct_fields(&distinct), &indices, None)
}

/// The fields of `parsed` as a struct array, one row each.
fn distinct_fields(parsed: &[Arc<Parsed>]) -> StructArray {
    let column = |value: &dyn Fn(&Parsed) -> Option<&str>| -> ArrayRef {
        let strings: StringArray = parsed.iter().map(|p| value(p)).collect();
        Arc::new(strings)
    };
    let arrays = vec![
        column(&|p| Some(&p.browser)),
        column(&|p| p.browser_version.as_deref()),
        column(&|p| Some(&p.os)),
        column(&|p| p.os_version.as_deref()),
        column(&|p| Some(p.device_type)),
    ];
    StructArray::new(result_fields(), arrays, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "\"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36\"";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53";
    const GOOGLEBOT: &str =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    #[test]
    fn every_rule_compiles() {
        let (compiled, skipped) = rule_counts();
        assert!(compiled > 600, "{compiled} rules");
        assert_eq!(skipped, 0, "skipped: {:?}", RULES.skipped);
    }

    #[test]
    fn common_agents() {
        let chrome = parse(CHROME_WINDOWS);
        assert_eq!(chrome.browser, "Chrome");
        assert_eq!(chrome.browser_version.as_deref(), Some("36.0.1985"));
        assert_eq!(chrome.os, "Windows");
        assert_eq!(chrome.os_version.as_deref(), Some("7"));
        assert_eq!(chrome.device_type, "desktop");

        let safari = parse(SAFARI_IPHONE);
        assert_eq!(
            (safari.browser.as_str(), safari.os.as_str()),
            ("Mobile Safari", "iOS")
        );
        assert_eq!(safari.os_version.as_deref(), Some("7.1.2"));
        assert_eq!(safari.device_type, "mobile");

        assert_eq!(parse(GOOGLEBOT).device_type, "bot");
        let nothing = parse("");
        assert_eq!(
            (nothing.browser.as_str(), nothing.os.as_str()),
            (OTHER, OTHER)
        );
        assert_eq!(nothing.browser_version, None);
    }

    #[test]
    fn arrays_keep_nulls() {
        let input = StringArray::from(vec![Some(CHROME_WINDOWS), None, Some(CHROME_WINDOWS)]);
        let out = parse_user_agent(&input).unwrap();
        let out = out.as_struct();
        assert_eq!(out.null_count(), 1);
        let browsers = out.column(0).as_string::<i32>();
        assert_eq!(browsers.value(0), "Chrome");
        assert_eq!(browsers.value(2), "Chrome");
        assert!(parse_user_agent(&arrow_array::Int32Array::from(vec![1])).is_err());
    }
}
