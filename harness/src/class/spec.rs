//! What the batch needs from an exercise spec: the bytes that key the resume cache and the
//! maximum score (worth of a missing or unbuildable submission).

use std::path::Path;

use crate::exercise::spec;

/// A resolved exercise, as the batch sees it.
#[derive(Debug, Clone)]
pub struct SpecInfo {
    pub id: String,
    /// The resolved spec, serialized: changes whenever any parameter, limit or point does.
    pub fingerprint: Vec<u8>,
    pub max_score: f64,
    /// The run's wall-clock limit.
    pub time_ms: u64,
}

/// Resolve `exercise`, from `file` when given, else built in.
pub fn resolve(exercise: &str, file: Option<&Path>) -> Result<SpecInfo, String> {
    let spec = match file {
        Some(path) => spec::load(path).map_err(|e| e.to_string())?,
        None => spec::builtin(exercise).map_err(|e| e.to_string())?,
    };
    if spec.id.as_str() != exercise {
        return Err(format!(
            "exercise file for `{exercise}` is for `{}`",
            spec.id.as_str()
        ));
    }
    // What grades (limits, parameters, points), not where the spec came from.
    let fingerprint = serde_json::to_vec(&(exercise, &spec.limits, &spec.params, &spec.points))
        .map_err(|e| e.to_string())?;
    Ok(SpecInfo {
        id: exercise.to_string(),
        max_score: spec.points.values().map(|&p| f64::from(p)).sum(),
        fingerprint,
        time_ms: spec.limits.time_ms,
    })
}

/// Every built-in exercise id, in the lesson's order.
pub fn all_ids() -> Vec<String> {
    crate::exercise::ExerciseId::ALL
        .iter()
        .map(|id| id.as_str().to_string())
        .collect()
}
