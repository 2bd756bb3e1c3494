//! Seeded simulation of probable (code-less) chat matching: how often "the last visitor who
//! clicked a messenger link" is really the person who wrote, at 20, 100 and 1,000 clicks a day.
//!
//! Self-contained on purpose (no collector internals, no crates): it models visitors, clicks and
//! chats, applies candidate rules the way the collector would at the moment a chat arrives (only
//! clicks recorded up to then are known), and prints precision and recall per rule and volume as
//! Markdown. Every parameter is listed in `Params` with where its value comes from; most are
//! assumptions, so the program also runs pessimistic and optimistic scenarios.
//!
//! Run: `cargo run --release -p chattag-collector --bin match_sim [seed]`
//! The output is recorded in docs/probable-matching.md.

use std::collections::HashMap;
use std::fmt::Write as _;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// SplitMix64: small, seedable, good enough for a simulation; no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn normal(&mut self) -> f64 {
        // Box–Muller; 1 - unit() is in (0, 1], so ln is finite.
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda > 30.0 {
            // Normal approximation: exp(-lambda) underflows Knuth's method for large lambda.
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32;
        }
        let limit = (-lambda).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.unit();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// Share of a day's traffic per hour (local time), 00–23. Assumption: the usual shape of
/// Russian retail/service sites in Metrica reports (night trough 02–05, plateau 10–21, evening
/// peak 19–21); only the relative shape matters here, and it matters because it concentrates
/// clicks, which makes ambiguity more likely than a flat rate would.
const HOURLY: [f64; 24] = [
    0.9, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.2, 3.2, 3.8, 4.0, 4.0, 4.0, 4.0, 4.0, 4.1, 4.2, 4.4,
    4.8, 5.0, 4.6, 3.2, 1.8,
];

/// Messenger shares of clicks and of chats. Assumption for a Russian site with all four
/// buttons; the rules only compare clicks on the same messenger, so a more even split makes
/// matching easier and a single dominant messenger makes it harder.
const MESSENGERS: [(&str, f64); 4] = [
    ("whatsapp", 0.55),
    ("telegram", 0.35),
    ("max", 0.06),
    ("viber", 0.04),
];

#[derive(Clone, Copy)]
struct Params {
    /// Messenger-link clicks per day (all messengers). The three volumes the issue asks for.
    clicks_per_day: f64,
    /// Extra clicks by the same visitor within 90 s (double taps, back-and-retry). Assumption:
    /// 0.3 → 1.3 clicks per clicking visitor. They carry the same code, so rules count visitors.
    repeat_clicks: f64,
    /// Share of clicking visitors who then write at all. Assumption: 0.6 (app not installed,
    /// desktop without the app, changed their mind).
    p_write: f64,
    /// Share of writers whose first message arrives without a usable code: they deleted it
    /// from the prefilled text, or the deeplink parameter was lost (iOS repeated /start,
    /// in-app browsers). Assumption: 0.2; 0.1 and 0.4 in the scenarios.
    p_codeless: f64,
    /// Delay from click to first message, lognormal: median and log-sd. Assumption: median
    /// 45 s, sigma 1.0 (90 % within ~2.7 min, 99 % within ~8 min): the prefilled draft is
    /// sent right away, a typed question takes longer.
    delay_median_s: f64,
    delay_sigma: f64,
    /// Writers who come back much later (10 min – 6 h after the click). Assumption: 0.1.
    p_late: f64,
    /// Code-less chats from people who never clicked on the site in this visit (saved the
    /// number earlier, returning customers, offline ads, a friend's recommendation), per chat
    /// from a clicker. Assumption: 0.5; 0.2 and 1.0 in the scenarios. Meta's and Telegram's
    /// own counts are not public; this is the parameter to measure on a real site (chats with
    /// no click at all in the previous hour give a lower bound).
    strangers_per_clicker_chat: f64,
    days: u32,
}

impl Params {
    fn baseline(clicks_per_day: f64) -> Params {
        Params {
            clicks_per_day,
            repeat_clicks: 0.3,
            p_write: 0.6,
            p_codeless: 0.2,
            delay_median_s: 45.0,
            delay_sigma: 1.0,
            p_late: 0.1,
            strangers_per_clicker_chat: 0.5,
            days: 120,
        }
    }
}

struct Click {
    visitor: u32,
    messenger: usize,
    at: f64,
}

/// A chat as the collector sees it when its first message arrives.
struct Chat {
    messenger: usize,
    at: f64,
    /// The visitor who really wrote (None: a stranger who never clicked).
    truth: Option<u32>,
    /// The message carried a code: matched exactly, never by the probable rule.
    has_code: bool,
}

struct World {
    clicks: Vec<Click>,
    chats: Vec<Chat>,
}

fn time_of_day(rng: &mut Rng, day: u32) -> f64 {
    let hour = rng.pick(&HOURLY) as f64;
    day as f64 * DAY + hour * HOUR + rng.unit() * HOUR
}

fn simulate(p: &Params, rng: &mut Rng) -> World {
    let shares: Vec<f64> = MESSENGERS.iter().map(|(_, s)| *s).collect();
    let visitors_per_day = p.clicks_per_day / (1.0 + p.repeat_clicks);
    let mut clicks = Vec::new();
    let mut chats = Vec::new();
    let mut next_visitor = 0u32;
    for day in 0..p.days {
        let mut clicker_chats = 0u32;
        for _ in 0..rng.poisson(visitors_per_day) {
            let visitor = next_visitor;
            next_visitor += 1;
            let messenger = rng.pick(&shares);
            let first = time_of_day(rng, day);
            clicks.push(Click {
                visitor,
                messenger,
                at: first,
            });
            for _ in 0..rng.poisson(p.repeat_clicks) {
                clicks.push(Click {
                    visitor,
                    messenger,
                    at: first + rng.unit() * 90.0,
                });
            }
            if !rng.chance(p.p_write) {
                continue;
            }
            clicker_chats += 1;
            let delay = if rng.chance(p.p_late) {
                10.0 * MINUTE + rng.unit() * (6.0 * HOUR - 10.0 * MINUTE)
            } else {
                p.delay_median_s * (p.delay_sigma * rng.normal()).exp()
            };
            chats.push(Chat {
                messenger,
                at: first + delay,
                truth: Some(visitor),
                has_code: !rng.chance(p.p_codeless),
            });
        }
        for _ in 0..rng.poisson(clicker_chats as f64 * p.strangers_per_clicker_chat) {
            chats.push(Chat {
                messenger: rng.pick(&shares),
                at: time_of_day(rng, day),
                truth: None,
                has_code: false,
            });
        }
    }
    clicks.sort_by(|a, b| a.at.total_cmp(&b.at));
    chats.sort_by(|a, b| a.at.total_cmp(&b.at));
    World { clicks, chats }
}

/// A candidate rule for accepting a code-less chat as the last clicker's.
#[derive(Clone, Copy)]
struct Rule {
    name: &'static str,
    /// The candidate's (last) click must be at most this long before the chat.
    window_s: f64,
    /// No other visitor may have clicked within this long before the chat (>= window).
    guard_s: f64,
    /// Count clicks on every messenger in the guard, not only the chat's.
    guard_any_messenger: bool,
    /// Ignore visitors whose code already arrived in an earlier chat ("claimed").
    skip_claimed: bool,
}

const RULES: [Rule; 9] = [
    Rule {
        name: "today: 1 visitor, same messenger, 10 min",
        window_s: 10.0 * MINUTE,
        guard_s: 10.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: false,
    },
    Rule {
        name: "1 unclaimed visitor, same messenger, 10 min",
        window_s: 10.0 * MINUTE,
        guard_s: 10.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: true,
    },
    Rule {
        name: "1 unclaimed visitor, same messenger, 5 min",
        window_s: 5.0 * MINUTE,
        guard_s: 5.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: true,
    },
    Rule {
        name: "1 unclaimed visitor, same messenger, 2 min",
        window_s: 2.0 * MINUTE,
        guard_s: 2.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: true,
    },
    Rule {
        name: "unclaimed, same messenger, 5 min, guard 30 min",
        window_s: 5.0 * MINUTE,
        guard_s: 30.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: true,
    },
    Rule {
        name: "unclaimed, same messenger, 2 min, guard 30 min",
        window_s: 2.0 * MINUTE,
        guard_s: 30.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: true,
    },
    Rule {
        name: "unclaimed, same messenger, 2 min, guard 60 min",
        window_s: 2.0 * MINUTE,
        guard_s: 60.0 * MINUTE,
        guard_any_messenger: false,
        skip_claimed: true,
    },
    Rule {
        name: "unclaimed, 5 min, guard 30 min any messenger",
        window_s: 5.0 * MINUTE,
        guard_s: 30.0 * MINUTE,
        guard_any_messenger: true,
        skip_claimed: true,
    },
    Rule {
        name: "unclaimed, 2 min, guard 60 min any messenger",
        window_s: 2.0 * MINUTE,
        guard_s: 60.0 * MINUTE,
        guard_any_messenger: true,
        skip_claimed: true,
    },
];

#[derive(Default, Clone, Copy)]
struct Score {
    /// Code-less chats that came from a clicker (what recall is measured against).
    codeless_from_clickers: u32,
    /// Code-less chats from strangers.
    codeless_from_strangers: u32,
    accepted: u32,
    correct: u32,
    /// What the site itself could estimate without knowing the truth (placebo test).
    estimated_precision: f64,
}

impl Score {
    fn precision(&self) -> f64 {
        ratio(self.correct, self.accepted)
    }
    fn recall(&self) -> f64 {
        ratio(self.correct, self.codeless_from_clickers)
    }
    /// Wilson 95 % lower bound of the precision: how sure the table is that it exceeds 0.5.
    fn precision_low(&self) -> f64 {
        let n = self.accepted as f64;
        if n == 0.0 {
            return 0.0;
        }
        let (p, z) = (self.precision(), 1.96);
        let centre = p + z * z / (2.0 * n);
        let margin = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        (centre - margin) / (1.0 + z * z / n)
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// When each visitor's code first arrived in a chat (an exact match claims the visitor).
fn claims(world: &World) -> HashMap<u32, f64> {
    let mut claimed_at = HashMap::new();
    for chat in world.chats.iter().filter(|c| c.has_code) {
        if let Some(v) = chat.truth {
            claimed_at.entry(v).or_insert(chat.at);
        }
    }
    claimed_at
}

/// The rule's answer for a code-less chat on `messenger` arriving at `at`: the one visitor it
/// would credit, if any. `exclude` hides one visitor's clicks (the placebo test below).
fn decide(
    world: &World,
    claimed_at: &HashMap<u32, f64>,
    rule: &Rule,
    messenger: usize,
    at: f64,
    exclude: Option<u32>,
) -> Option<u32> {
    let from = world.clicks.partition_point(|c| c.at < at - rule.guard_s);
    // Only clicks recorded before the chat arrived are known at decision time.
    let known = world.clicks[from..]
        .iter()
        .take_while(|c| c.at <= at)
        .filter(|c| Some(c.visitor) != exclude)
        .filter(|c| !rule.skip_claimed || claimed_at.get(&c.visitor).is_none_or(|t| *t > at));
    let mut in_window: Option<u32> = None;
    for c in known {
        let same = c.messenger == messenger;
        if !same && !rule.guard_any_messenger {
            continue;
        }
        let candidate = same && c.at >= at - rule.window_s;
        match in_window {
            Some(v) if v == c.visitor => {}
            // A second visitor inside the guard, or one clicking before the candidate did.
            Some(_) => return None,
            None if candidate => in_window = Some(c.visitor),
            None => return None,
        }
    }
    in_window
}

/// Placebo test the collector can run on its own data: apply the rule at the moments chats
/// *with* a code arrived, hiding their true clicker. Whatever the rule still accepts there is
/// a background click that would have been credited by mistake. The share `q` times all
/// code-less chats bounds the wrong acceptances from above (every code-less chat is treated as
/// if it could be a stranger's), so `1 - q * codeless / accepted` is a conservative precision.
fn placebo_rate(world: &World, claimed_at: &HashMap<u32, f64>, rule: &Rule) -> f64 {
    let (mut tried, mut accepted) = (0u32, 0u32);
    for chat in world.chats.iter().filter(|c| c.has_code) {
        tried += 1;
        if decide(world, claimed_at, rule, chat.messenger, chat.at, chat.truth).is_some() {
            accepted += 1;
        }
    }
    ratio(accepted, tried)
}

fn evaluate(world: &World, rule: &Rule) -> Score {
    let claimed_at = claims(world);
    let mut score = Score::default();
    for chat in world.chats.iter().filter(|c| !c.has_code) {
        match chat.truth {
            Some(_) => score.codeless_from_clickers += 1,
            None => score.codeless_from_strangers += 1,
        }
        if let Some(v) = decide(world, &claimed_at, rule, chat.messenger, chat.at, None) {
            score.accepted += 1;
            if chat.truth == Some(v) {
                score.correct += 1;
            }
        }
    }
    let codeless = score.codeless_from_clickers + score.codeless_from_strangers;
    let q = placebo_rate(world, &claimed_at, rule);
    score.estimated_precision = if score.accepted == 0 {
        0.0
    } else {
        1.0 - q * codeless as f64 / score.accepted as f64
    };
    score
}

struct Scenario {
    name: &'static str,
    apply: fn(Params) -> Params,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        name: "baseline (20 % of writers lose the code, 0.5 stranger chats per clicker chat)",
        apply: |p| p,
    },
    Scenario {
        name: "many strangers (1.0 stranger chat per clicker chat)",
        apply: |p| Params {
            strangers_per_clicker_chat: 1.0,
            ..p
        },
    },
    Scenario {
        name: "few strangers (0.2 per clicker chat), 40 % lose the code",
        apply: |p| Params {
            strangers_per_clicker_chat: 0.2,
            p_codeless: 0.4,
            ..p
        },
    },
    Scenario {
        name: "slow writers (median 3 min, 25 % come back later)",
        apply: |p| Params {
            delay_median_s: 180.0,
            p_late: 0.25,
            ..p
        },
    },
];

const VOLUMES: [f64; 3] = [20.0, 100.0, 1000.0];

/// Per rule, over every scenario: the worst cases the summary table reports.
#[derive(Clone, Copy)]
struct Worst {
    /// Lowest Wilson lower bound of precision when the rule always applies.
    fixed_precision_low: f64,
    fixed_recall: [f64; 3],
    /// The same rule switched off wherever the site's own estimate is <= 0.5.
    calibrated_precision_low: f64,
    calibrated_recall: [f64; 3],
    /// Cells where the site's estimate was above the true precision (not conservative).
    optimistic_estimates: u32,
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(20_261_206);
    let mut out = String::new();
    let mut worst = vec![
        Worst {
            fixed_precision_low: f64::INFINITY,
            fixed_recall: [f64::INFINITY; 3],
            calibrated_precision_low: f64::INFINITY,
            calibrated_recall: [f64::INFINITY; 3],
            optimistic_estimates: 0,
        };
        RULES.len()
    ];
    for scenario in &SCENARIOS {
        let _ = writeln!(out, "\n### {}\n", scenario.name);
        let _ = writeln!(
            out,
            "| rule | clicks/day | code-less chats/day (clickers + strangers) | accepted/day | wrong/day | precision (95 % low) | recall | site's own estimate |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for (vi, volume) in VOLUMES.iter().enumerate() {
            let params = (scenario.apply)(Params::baseline(*volume));
            let mut rng = Rng(seed ^ ((vi as u64) << 32));
            let world = simulate(&params, &mut rng);
            let days = params.days as f64;
            for (ri, rule) in RULES.iter().enumerate() {
                let s = evaluate(&world, rule);
                let w = &mut worst[ri];
                w.fixed_precision_low = w.fixed_precision_low.min(s.precision_low());
                w.fixed_recall[vi] = w.fixed_recall[vi].min(s.recall());
                let enabled = s.estimated_precision > 0.5;
                if enabled {
                    w.calibrated_precision_low = w.calibrated_precision_low.min(s.precision_low());
                }
                w.calibrated_recall[vi] =
                    w.calibrated_recall[vi].min(if enabled { s.recall() } else { 0.0 });
                if s.accepted > 0 && s.estimated_precision > s.precision() {
                    w.optimistic_estimates += 1;
                }
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.1} ({:.1} + {:.1}) | {:.2} | {:.2} | {:.2} ({:.2}) | {:.2} | {:.2}{} |",
                    rule.name,
                    volume,
                    (s.codeless_from_clickers + s.codeless_from_strangers) as f64 / days,
                    s.codeless_from_clickers as f64 / days,
                    s.codeless_from_strangers as f64 / days,
                    s.accepted as f64 / days,
                    (s.accepted - s.correct) as f64 / days,
                    s.precision(),
                    s.precision_low(),
                    s.recall(),
                    s.estimated_precision,
                    if enabled { "" } else { " → off" },
                );
            }
        }
    }
    println!("# match_sim (seed {seed})");
    println!("{out}");
    println!("### Summary over all scenarios\n");
    println!("\"always on\": the rule applies at every volume. \"self-checked\": the same rule, exported only");
    println!(
        "while the site's own placebo estimate of its precision is above 0.5 (else recall 0).\n"
    );
    println!("| rule | always on: lowest precision (95 % low) | always on: lowest recall 20 / 100 / 1,000 | self-checked: lowest precision (95 % low) | self-checked: lowest recall 20 / 100 / 1,000 | optimistic estimates |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (rule, w) in RULES.iter().zip(&worst) {
        let cal = if w.calibrated_precision_low.is_finite() {
            format!("{:.2}", w.calibrated_precision_low)
        } else {
            "never on".to_string()
        };
        println!(
            "| {} | {:.2} | {:.2} / {:.2} / {:.2} | {} | {:.2} / {:.2} / {:.2} | {} |",
            rule.name,
            w.fixed_precision_low,
            w.fixed_recall[0],
            w.fixed_recall[1],
            w.fixed_recall[2],
            cal,
            w.calibrated_recall[0],
            w.calibrated_recall[1],
            w.calibrated_recall[2],
            w.optimistic_estimates,
        );
    }
}
