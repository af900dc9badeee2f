//! What a backend's batched runtime statements share once the rows are back: which listed
//! ids an insert took, and which listed saves a statement made.

use std::collections::HashSet;
use std::hash::Hash;

use crate::durable::SagaRecord;

/// For each of `listed`, whether the statement inserted it, from the ids its `RETURNING`
/// gave back: an id listed twice is new at most once (the first time).
///
/// ```
/// use eventcore::backend::inserted_once;
/// assert_eq!(inserted_once(&[1, 2, 1, 3], [1, 3]), [true, false, false, true]);
/// ```
pub fn inserted_once<T: Eq + Hash + Clone>(
    listed: &[T],
    inserted: impl IntoIterator<Item = T>,
) -> Vec<bool> {
    let mut inserted: HashSet<T> = inserted.into_iter().collect();
    listed.iter().map(|id| inserted.remove(id)).collect()
}

/// The new version of each of `saves` (`(record, expected version)`) when the statements
/// saved them all (`saved`: the `(saga type, saga id)` pairs they returned); otherwise the
/// first listed that they did not save, whose conflict the backend reports.
///
/// # Errors
/// The first unsaved `(record, expected version)`.
pub fn saved_versions(
    saves: &[(SagaRecord, u64)],
    saved: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<u64>, &(SagaRecord, u64)> {
    let mut saved: HashSet<(String, String)> = saved.into_iter().collect();
    saves
        .iter()
        .map(|save @ (record, expected)| {
            let key = (record.saga_type.clone(), record.saga_id.clone());
            if saved.remove(&key) {
                Ok(expected + 1)
            } else {
                Err(save)
            }
        })
        .collect()
}
