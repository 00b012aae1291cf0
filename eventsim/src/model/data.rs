//! The compact data files shipped in `eventsim/data/` (compiled into the binary): first names
//! with gender, last names, US places, user agents — each with a weight.

use super::rng::WeightedTable;

const FIRST_NAMES: &str = include_str!("../../data/first_names.tsv");
const LAST_NAMES: &str = include_str!("../../data/last_names.tsv");
const PLACES: &str = include_str!("../../data/us_places.tsv");
const USER_AGENTS: &str = include_str!("../../data/user_agents.tsv");

/// A US place: where a user lives.
#[derive(Debug, Clone)]
pub struct Place {
    pub city: String,
    pub state: String,
    pub zip: String,
    pub lat: f64,
    pub lon: f64,
}

/// The name, place and user-agent tables, each with a weighted picker.
#[derive(Debug)]
pub struct Data {
    pub first_names: Vec<(String, String)>,
    pub first_table: WeightedTable,
    pub last_names: Vec<String>,
    pub last_table: WeightedTable,
    pub places: Vec<Place>,
    pub place_table: WeightedTable,
    pub user_agents: Vec<String>,
    pub agent_table: WeightedTable,
}

/// The data lines of a shipped file: tab-separated fields, `#` comments skipped.
fn rows<'a>(text: &'a str, file: &'a str, width: usize) -> impl Iterator<Item = Vec<&'a str>> + 'a {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(move |l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(
                fields.len(),
                width,
                "shipped data file {file}: bad line {l:?}"
            );
            fields
        })
}

fn weight(s: &str, file: &str) -> f64 {
    s.trim()
        .parse()
        .unwrap_or_else(|_| panic!("shipped data file {file}: bad weight {s:?}"))
}

fn table(weights: Vec<f64>, file: &str) -> WeightedTable {
    WeightedTable::new(weights).unwrap_or_else(|| panic!("shipped data file {file} is empty"))
}

impl Data {
    /// Parses the shipped files. They are part of the binary and checked by the tests, so a
    /// malformed line is a build defect (a panic), not a user error.
    pub fn shipped() -> Data {
        let (mut first_names, mut fw) = (Vec::new(), Vec::new());
        for f in rows(FIRST_NAMES, "first_names.tsv", 3) {
            first_names.push((f[0].to_string(), f[1].to_string()));
            fw.push(weight(f[2], "first_names.tsv"));
        }
        let (mut last_names, mut lw) = (Vec::new(), Vec::new());
        for f in rows(LAST_NAMES, "last_names.tsv", 2) {
            last_names.push(f[0].to_string());
            lw.push(weight(f[1], "last_names.tsv"));
        }
        let (mut places, mut pw) = (Vec::new(), Vec::new());
        for f in rows(PLACES, "us_places.tsv", 6) {
            places.push(Place {
                city: f[0].to_string(),
                state: f[1].to_string(),
                zip: f[2].to_string(),
                lat: weight(f[3], "us_places.tsv"),
                lon: weight(f[4], "us_places.tsv"),
            });
            pw.push(weight(f[5], "us_places.tsv"));
        }
        let (mut user_agents, mut aw) = (Vec::new(), Vec::new());
        for f in rows(USER_AGENTS, "user_agents.tsv", 2) {
            aw.push(weight(f[0], "user_agents.tsv"));
            user_agents.push(f[1].to_string());
        }
        Data {
            first_names,
            first_table: table(fw, "first_names.tsv"),
            last_names,
            last_table: table(lw, "last_names.tsv"),
            places,
            place_table: table(pw, "us_places.tsv"),
            user_agents,
            agent_table: table(aw, "user_agents.tsv"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_data_parses() {
        let d = Data::shipped();
        assert!(d.first_names.len() >= 200);
        assert!(d.last_names.len() >= 200);
        assert!(d.places.len() >= 200);
        assert!(d.first_names.iter().all(|(_, g)| g == "M" || g == "F"));
        assert!(d
            .places
            .iter()
            .all(|p| p.state.len() == 2 && p.zip.len() == 5));
        assert!(d
            .user_agents
            .iter()
            .all(|a| a.starts_with('"') && a.ends_with('"')));
    }
}
