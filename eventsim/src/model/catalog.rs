//! A synthetic song catalog, built deterministically at start (no download): ≥ 100k songs by
//! ≥ 20k artists, Zipf-like popularity, log-normal durations around four minutes.
//!
//! eventsim reads the Million Song Dataset's listen counts and a "similar songs" file instead;
//! we ship neither, so the next song is drawn by popularity alone.

use std::collections::HashSet;

use super::rng::{streams, AliasTable, Rng, WeightedTable};

/// The fixed seed of the catalog: the same catalog for every run, whatever `--randomseed`, so
/// that song and artist dimensions stay stable across runs.
const CATALOG_SEED: u64 = 0x5EED_50A6_1A4E;

pub const DEFAULT_SONGS: usize = 120_000;
pub const DEFAULT_ARTISTS: usize = 25_000;

#[derive(Debug, Clone)]
pub struct Song {
    pub artist: u32,
    pub title: String,
    /// Seconds, five decimals (as eventsim's data).
    pub duration: f64,
}

#[derive(Debug)]
pub struct Catalog {
    pub artists: Vec<String>,
    pub songs: Vec<Song>,
    popularity: AliasTable,
}

const ADJECTIVES: &[&str] = &[
    "Black",
    "Blue",
    "Broken",
    "Burning",
    "Call",
    "Cold",
    "Crimson",
    "Crystal",
    "Dark",
    "Dead",
    "Deep",
    "Electric",
    "Empty",
    "Endless",
    "Fading",
    "Falling",
    "Final",
    "Flying",
    "Frozen",
    "Golden",
    "Green",
    "Hidden",
    "Hollow",
    "Holy",
    "Human",
    "Iron",
    "Last",
    "Little",
    "Lonely",
    "Lost",
    "Loud",
    "Lucky",
    "Mad",
    "Magic",
    "Midnight",
    "Modern",
    "Neon",
    "New",
    "Northern",
    "Old",
    "Pale",
    "Perfect",
    "Pretty",
    "Purple",
    "Quiet",
    "Rapid",
    "Red",
    "Restless",
    "Rising",
    "Royal",
    "Sacred",
    "Savage",
    "Secret",
    "Silent",
    "Silver",
    "Simple",
    "Sleeping",
    "Slow",
    "Small",
    "Southern",
    "Strange",
    "Sweet",
    "Twisted",
    "Velvet",
    "Violent",
    "Wandering",
    "Wasted",
    "Western",
    "White",
    "Wicked",
    "Wild",
    "Young",
    "Bitter",
    "Bright",
    "Cosmic",
    "Dirty",
    "Distant",
    "Drunken",
    "Eternal",
    "Fragile",
    "Gentle",
    "Glass",
    "Heavy",
    "Honest",
    "Lazy",
    "Liquid",
    "Mellow",
    "Mystic",
    "Paper",
    "Plastic",
    "Rusty",
    "Shiny",
    "Sonic",
    "Stone",
    "Sunny",
    "Tender",
    "Urban",
    "Vintage",
    "Wooden",
    "Atomic",
];

const NOUNS: &[&str] = &[
    "Angel", "Arrow", "Bird", "Bone", "Boy", "Bridge", "Brother", "Canyon", "Castle", "Cat",
    "Child", "City", "Cloud", "Crow", "Crown", "Dancer", "Dog", "Dragon", "Dream", "Drum", "Echo",
    "Engine", "Eye", "Fire", "Flower", "Fox", "Ghost", "Girl", "Giant", "Garden", "Harbor",
    "Heart", "Highway", "Horse", "Hunter", "Island", "Jungle", "King", "Knight", "Lake", "Light",
    "Lion", "Machine", "Mirror", "Monkey", "Moon", "Mountain", "Night", "Ocean", "Owl", "Parade",
    "Pilot", "Planet", "Queen", "Radio", "Rain", "Raven", "Rebel", "River", "Road", "Rocket",
    "Rose", "Sailor", "Saint", "Shadow", "Sister", "Sky", "Snake", "Soldier", "Son", "Spark",
    "Star", "Storm", "Stranger", "Street", "Sun", "Tiger", "Tower", "Train", "Tree", "Valley",
    "Vampire", "Voice", "Wave", "Wind", "Wolf", "Wonder", "Animal", "Avenue", "Bandit", "Comet",
    "Desert", "Diamond", "Empire", "Forest", "Gypsy", "Horizon", "Lantern", "Magnet", "Meadow",
    "Orchid", "Prophet", "Ribbon", "Signal", "Thunder",
];

const VERBS: &[&str] = &[
    "Running",
    "Dancing",
    "Waiting",
    "Dreaming",
    "Falling",
    "Walking",
    "Flying",
    "Burning",
    "Calling",
    "Chasing",
    "Crying",
    "Driving",
    "Fading",
    "Holding",
    "Hiding",
    "Leaving",
    "Living",
    "Losing",
    "Loving",
    "Breaking",
    "Riding",
    "Shining",
    "Singing",
    "Sleeping",
    "Staying",
    "Talking",
    "Turning",
    "Wandering",
    "Coming Home",
    "Letting Go",
];

const PLACES: &[&str] = &[
    "the Night",
    "the Sun",
    "the Rain",
    "the Dark",
    "the City",
    "the Sea",
    "the River",
    "Tonight",
    "Forever",
    "Again",
    "Away",
    "the Edge",
    "the Morning",
    "the Road",
    "the Stars",
    "the Fire",
    "Paradise",
    "Nowhere",
    "California",
    "Memphis",
    "Brooklyn",
    "the Summer",
    "December",
];

const FIRST: &[&str] = &[
    "Johnny", "Billy", "Jimmy", "Lucy", "Ella", "Frankie", "Nina", "Ray", "Sam", "Otis", "Etta",
    "Marvin", "Patsy", "Hank", "Willie", "Dolly", "Janis", "Buddy", "Stevie", "Joni", "Carole",
    "Neil", "Bonnie", "Randy", "Tammy", "Gladys", "Curtis", "Aretha", "Bobby", "Loretta", "Miles",
    "Louis", "Billie", "Ruby", "Leon", "Hazel", "Jack", "Max", "Ivy", "Zoe",
];

const LAST: &[&str] = &[
    "Cash",
    "Holiday",
    "Lee",
    "Jones",
    "King",
    "Young",
    "Mitchell",
    "Taylor",
    "Parker",
    "Brown",
    "Green",
    "Wells",
    "Moore",
    "Reed",
    "Lewis",
    "Waters",
    "Hooker",
    "Redding",
    "Wonder",
    "Simone",
    "Franklin",
    "Gaye",
    "Mayfield",
    "Nelson",
    "Williams",
    "Parton",
    "Joplin",
    "Holly",
    "Nash",
    "Carter",
    "Bell",
    "Fox",
    "Stone",
    "Rivers",
    "Knight",
    "Day",
    "Monroe",
    "Valentine",
    "Frost",
    "Sparks",
];

fn pick<'a>(rng: &mut Rng, words: &[&'a str]) -> &'a str {
    words[rng.below(words.len() as u64) as usize]
}

fn plural(noun: &str) -> String {
    if noun.ends_with('s') || noun.ends_with('x') || noun.ends_with('h') {
        format!("{noun}es")
    } else if let Some(stem) = noun.strip_suffix('y') {
        if noun.ends_with("ey") || noun.ends_with("ay") {
            format!("{noun}s")
        } else {
            format!("{stem}ies")
        }
    } else if let Some(stem) = noun.strip_suffix("f") {
        format!("{stem}ves")
    } else {
        format!("{noun}s")
    }
}

fn artist_name(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 | 1 => format!("The {} {}", pick(rng, ADJECTIVES), plural(pick(rng, NOUNS))),
        2 => format!("{} {}", pick(rng, FIRST), pick(rng, LAST)),
        3 => format!("{} & The {}", pick(rng, FIRST), plural(pick(rng, NOUNS))),
        4 => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        5 => format!("{} of {}", pick(rng, NOUNS), pick(rng, PLACES)),
        6 => format!("DJ {} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        7 => format!("{} {} Band", pick(rng, LAST), pick(rng, NOUNS)),
        _ => format!("{}{}", pick(rng, NOUNS), pick(rng, NOUNS).to_lowercase()),
    }
}

fn song_title(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 | 1 => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        2 => format!("{} {}", pick(rng, VERBS), pick(rng, PLACES)),
        3 => format!("{} in {}", pick(rng, NOUNS), pick(rng, PLACES)),
        4 => format!("My {} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        5 => format!("{} ({} Mix)", pick(rng, NOUNS), pick(rng, ADJECTIVES)),
        6 => format!("{} {}", pick(rng, VERBS), pick(rng, NOUNS)),
        _ => format!("{}'s {}", pick(rng, FIRST), pick(rng, NOUNS)),
    }
}

impl Catalog {
    /// The standard catalog (120k songs, 25k artists).
    pub fn standard() -> Catalog {
        Catalog::generate(DEFAULT_SONGS, DEFAULT_ARTISTS)
    }

    /// A catalog of `n_songs` songs by `n_artists` artists (every artist has a song).
    pub fn generate(n_songs: usize, n_artists: usize) -> Catalog {
        let n_artists = n_artists.max(1);
        let n_songs = n_songs.max(n_artists);
        let mut rng = Rng::stream(CATALOG_SEED, streams::CATALOG);
        let mut seen = HashSet::with_capacity(n_artists);
        let mut artists = Vec::with_capacity(n_artists);
        while artists.len() < n_artists {
            let mut name = artist_name(&mut rng);
            if seen.contains(&name) {
                name = format!("{name} {}", seen.len() % 97 + 2);
            }
            if seen.insert(name.clone()) {
                artists.push(name);
            }
        }
        // Artists' shares of the songs are Zipf-like too: a few prolific ones, a long tail.
        let artist_table =
            WeightedTable::new((0..n_artists).map(|r| 1.0 / (r as f64 + 5.0))).unwrap_or_default();
        let songs: Vec<Song> = (0..n_songs)
            .map(|i| {
                let artist = if i < n_artists {
                    i
                } else {
                    artist_table.pick(&mut rng)
                };
                let seconds = (5.45 + 0.33 * rng.gaussian()).exp().clamp(30.0, 1800.0);
                Song {
                    artist: artist as u32,
                    title: song_title(&mut rng),
                    duration: (seconds * 100_000.0).round() / 100_000.0,
                }
            })
            .collect();
        // Song popularity: Zipf-like over a random order of the songs.
        let mut rank: Vec<u32> = (0..n_songs as u32).collect();
        for i in (1..rank.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            rank.swap(i, j);
        }
        let weights: Vec<f64> = rank.iter().map(|&r| 1.0 / (f64::from(r) + 20.0)).collect();
        let popularity = AliasTable::new(&weights).unwrap_or_default();
        Catalog {
            artists,
            songs,
            popularity,
        }
    }

    /// A song, drawn by popularity.
    #[inline]
    pub fn next_song(&self, rng: &mut Rng) -> u32 {
        self.popularity.pick(rng) as u32
    }

    pub fn song(&self, id: u32) -> &Song {
        &self.songs[id as usize]
    }

    pub fn artist_of(&self, song: &Song) -> &str {
        &self.artists[song.artist as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_catalog_is_big_and_deterministic() {
        let a = Catalog::standard();
        let b = Catalog::standard();
        assert!(a.songs.len() >= 100_000);
        assert!(a.artists.len() >= 20_000);
        let unique: HashSet<&String> = a.artists.iter().collect();
        assert_eq!(unique.len(), a.artists.len());
        assert_eq!(a.songs[12345].title, b.songs[12345].title);
        assert!(a
            .songs
            .iter()
            .all(|s| (30.0..=1800.0).contains(&s.duration)));
        let mean = a.songs.iter().map(|s| s.duration).sum::<f64>() / a.songs.len() as f64;
        assert!((200.0..280.0).contains(&mean), "{mean}");
    }

    #[test]
    fn popularity_is_skewed() {
        let c = Catalog::generate(10_000, 2_000);
        let mut rng = Rng::stream(1, 1);
        let mut counts = vec![0u32; c.songs.len()];
        for _ in 0..100_000 {
            counts[c.next_song(&mut rng) as usize] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: u32 = counts[..100].iter().sum();
        assert!(top > 10_000, "top 1% of songs got {top} of 100000 plays");
    }
}
