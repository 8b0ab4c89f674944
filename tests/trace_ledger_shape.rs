//! Ledgers compared across runs: a ledger's shape (its events without times, pids
//! renamed by first appearance) and where two shapes part.

use std::collections::BTreeMap;

use proclab::ledger::Ledger;

/// The whole ledger but its times: every event in order, pids renamed by first
/// appearance (P0 is the root), `seq` and `t_ns` dropped.
pub fn ledger_shape(ledger: &Ledger) -> Vec<String> {
    const PID_FIELDS: &[&str] = &[
        "pid",
        "tid",
        "parent",
        "child",
        "creator_tid",
        "reaper",
        "reaped",
        "from",
        "to",
    ];
    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    let mut name = |pid: i64| {
        let next = names.len();
        names
            .entry(pid)
            .or_insert_with(|| format!("P{next}"))
            .clone()
    };
    name(i64::from(ledger.root));
    ledger
        .events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).expect("an event serialises");
            let map = v.as_object_mut().expect("an event is an object");
            map.remove("seq");
            map.remove("t_ns");
            for field in PID_FIELDS {
                if let Some(pid) = map.get(*field).and_then(serde_json::Value::as_i64) {
                    map.insert(field.to_string(), name(pid).into());
                }
            }
            v.to_string()
        })
        .collect()
}

/// Where the first two of several ledgers part: the events around it, with counts.
pub fn first_difference(seen: &BTreeMap<Vec<String>, usize>) -> String {
    let mut ledgers = seen.iter();
    let (Some((a, na)), Some((b, nb))) = (ledgers.next(), ledgers.next()) else {
        return String::new();
    };
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let window = |l: &[String]| l[at.saturating_sub(2)..(at + 4).min(l.len())].join("\n  ");
    format!(
        "event {at}; {na} run(s):\n  {}\n{nb} run(s):\n  {}",
        window(a),
        window(b)
    )
}
