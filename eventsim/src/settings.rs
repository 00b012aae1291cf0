//! The run settings that eventsim's command line and its config file both may give: the number
//! of users, the span, the seed, growth and attrition, the first user id and the tag. Each is
//! declared once, with its flag and its default; a flag wins over the file's key
//! (`n-users`, `start-date`, `end-date`, `seed`, `growth-rate`, `attrition-rate`,
//! `first-user-id`, `tag`: see the `config` module).

use clap::Args;
use soundlake_core::settings::help_with_default;

/// Initial users when neither `--nusers` nor `n-users` says.
pub const DEFAULT_USERS: u64 = 1;
/// The random seed when neither `--randomseed` nor `seed` says.
pub const DEFAULT_SEED: i64 = 0;
/// The first user id when neither `--userid` nor `first-user-id` says.
pub const DEFAULT_FIRST_USER_ID: i64 = 1;
/// Annual growth and attrition when neither flag nor key says: none.
pub const DEFAULT_RATE: f64 = 0.0;

soundlake_core::layered_settings! {
    /// The settings of the command line (`Cli`) that the config file may give too; `None`: not
    /// given there.
    #[derive(Args, Debug, Clone, Default, PartialEq)]
    pub struct RunSettings {
        #[arg(long = "nusers", value_name = "N", help = help_with_default(
            "Initial number of users",
            format_args!("the config's n-users, else {DEFAULT_USERS}"),
        ))]
        pub n_users: Option<u64>,

        #[arg(long = "start-time", value_name = "TIME", help = help_with_default(
            "Start time, e.g. 2015-06-01T00:00:00 (UTC)",
            "the config's start-date, else --from",
        ))]
        pub start: Option<String>,

        #[arg(long = "end-time", value_name = "TIME", help = help_with_default(
            "End time, e.g. 2015-06-15T00:00:00 (UTC)",
            "the config's end-date, else --to; with --continuous and neither, no end",
        ))]
        pub end: Option<String>,

        #[arg(long = "randomseed", value_name = "N", allow_negative_numbers = true,
            help = help_with_default(
                "Random seed",
                format_args!("the config's seed, else {DEFAULT_SEED}"),
            ))]
        pub seed: Option<i64>,

        /// Annual user growth rate, as a fraction of current users (1% => 0.01).
        #[arg(long = "growth-rate", value_name = "RATE", allow_negative_numbers = true)]
        pub growth_rate: Option<f64>,

        /// Annual user attrition rate, as a fraction of current users (1% => 0.01).
        #[arg(long = "attrition-rate", value_name = "RATE", allow_negative_numbers = true)]
        pub attrition_rate: Option<f64>,

        #[arg(long = "userid", value_name = "ID", help = help_with_default(
            "First user id",
            format_args!("the config's first-user-id, else {DEFAULT_FIRST_USER_ID}"),
        ))]
        pub first_user_id: Option<i64>,

        /// Tag applied to each event with user details (for example an A/B test group).
        #[arg(long = "tag", value_name = "TAG")]
        pub tag: Option<String>,
    }
}
