//! Ranked text search over the snapshot: whole words, word prefixes (as-you-type),
//! substrings and near misses, with the store's scoring (`store::catalog::search`).
//!
//! The index is ours, two persistent maps updated once per batch: words (the alphanumeric
//! tokens of each entity's search text) to the entities holding them, and trigrams (as
//! `pg_trgm` pads them) to the words holding them. Postings hold an entity's id within
//! the index (4 bytes), not its ref (a 16-byte shared pointer): about twelve postings per
//! entity, most in long lists. A prefix is a range of the ordered word
//! map; a near miss is a word found through its trigrams. Substrings are a scan of the
//! lower-cased search texts (a few MB at 100,000 entities). This module does not parse
//! filters (`filter` does) or page (`query` does).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::ops::Bound;
use std::sync::Arc;

use crate::entity::Entity;
use crate::fast::{HashMap, HashSet, PMap};
use crate::names::NameKey;
use crate::query::{words, TextQuery};

/// `pg_trgm`'s default `word_similarity_threshold`: a near miss at or above it matches.
pub const WORD_SIMILARITY_THRESHOLD: f64 = 0.6;
use crate::set::Set;

type Trigram = [char; 3];
/// A sorted set shared between snapshots (see `set`): a batch that adds one entity to a
/// word every entity holds copies a path of a tree, not the list. Entity ids.
type Postings = Set<u32>;
/// Words, for a trigram.
type WordList = Set<Arc<str>>;
/// What a batch takes out of one list, and what it puts in.
type Delta<T> = (BTreeSet<T>, BTreeSet<T>);

/// Words -> entities and trigrams -> words.
#[derive(Clone, Debug, Default)]
pub(crate) struct SearchIndex {
    words: imbl::OrdMap<Arc<str>, Postings>,
    trigrams: PMap<Trigram, WordList>,
    /// The id of each entity holding a word, while it holds one.
    ids: PMap<Arc<str>, u32>,
    /// Id -> ref (`None`: free).
    refs: imbl::Vector<Option<Arc<str>>>,
    /// Ids given back, taken again before new ones.
    free: Vec<u32>,
}

impl PartialEq for SearchIndex {
    /// The same words held by the same refs, the same trigrams: ids depend on the order
    /// entities came and went (batch boundaries), not on what is indexed.
    fn eq(&self, other: &Self) -> bool {
        fn holders<'a>(index: &'a SearchIndex, postings: &Postings) -> Vec<&'a Arc<str>> {
            let mut refs: Vec<&Arc<str>> =
                postings.iter().filter_map(|id| index.key(*id)).collect();
            refs.sort();
            refs
        }
        self.trigrams == other.trigrams
            && self.ids.len() == other.ids.len()
            && self.words.len() == other.words.len()
            && self.words.iter().all(|(word, postings)| {
                other.words.get(word).is_some_and(|theirs| {
                    postings.len() == theirs.len()
                        && holders(self, postings) == holders(other, theirs)
                })
            })
    }
}

/// The trigrams of one word, in order, padded as `pg_trgm` pads them (two spaces before,
/// one after).
fn word_trigrams(word: &str) -> Vec<Trigram> {
    let padded: Vec<char> = [' ', ' ']
        .into_iter()
        .chain(word.chars())
        .chain([' '])
        .collect();
    padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// The trigrams inside a token, unpadded: every word holding the token as a substring
/// holds all of them.
fn inner_trigrams(token: &str) -> Vec<Trigram> {
    let chars: Vec<char> = token.chars().collect();
    chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// `pg_trgm`'s `word_similarity(query, text)`: the best ratio of the query's trigrams found
/// in a contiguous extent of the text's trigram sequence to the query's trigrams plus the
/// extent's others.
fn extent_similarity(query: &HashSet<Trigram>, sequence: &[Trigram]) -> f64 {
    if query.is_empty() {
        return 0.0;
    }
    let total = query.len() as f64;
    let mut best = 0.0_f64;
    for start in 0..sequence.len() {
        if !query.contains(&sequence[start]) {
            continue; // an extent starting outside the query only adds to its cost
        }
        let mut found: HashSet<Trigram> = HashSet::default();
        let mut extra = 0usize;
        for trigram in &sequence[start..] {
            if query.contains(trigram) {
                found.insert(*trigram);
                best = best.max(found.len() as f64 / (total + extra as f64));
            } else {
                extra += 1;
            }
        }
    }
    best
}

/// One query's word similarities, each word or run of words computed once.
struct Similarity {
    query: HashSet<Trigram>,
    run: usize,
    cache: HashMap<String, f64>,
}

impl Similarity {
    fn new(query: &TextQuery) -> Similarity {
        Similarity {
            query: query.terms.iter().flat_map(|t| word_trigrams(t)).collect(),
            run: query.terms.len().max(1),
            cache: HashMap::default(),
        }
    }

    /// `word_similarity(query, text)` over runs of as many words as the query has (one
    /// word for a one-word query).
    fn of_text(&mut self, text: &str) -> f64 {
        let text: Vec<&str> = words(text).collect();
        let mut best = 0.0_f64;
        for start in 0..text.len() {
            let window = &text[start..(start + self.run).min(text.len())];
            let sim = self.of_window(window);
            best = best.max(sim);
        }
        best
    }

    fn of_window(&mut self, window: &[&str]) -> f64 {
        let joined;
        let key: &str = match window {
            [word] => word,
            _ => {
                joined = window.join(" ");
                &joined
            }
        };
        if let Some(sim) = self.cache.get(key) {
            return *sim;
        }
        let key = key.to_string();
        let sequence: Vec<Trigram> = window.iter().flat_map(|w| word_trigrams(w)).collect();
        let sim = extent_similarity(&self.query, &sequence);
        self.cache.insert(key, sim);
        sim
    }
}

impl SearchIndex {
    /// Applies a batch's changed entities (before, after) to both maps.
    pub(crate) fn update<'a>(
        &mut self,
        changed: impl Iterator<Item = (&'a Arc<str>, Option<&'a Entity>, Option<&'a Entity>)>,
    ) {
        let mut delta: BTreeMap<String, Delta<u32>> = BTreeMap::new();
        // Entities left without a word: their ids are given back once applied.
        let mut emptied: Vec<&Arc<str>> = Vec::new();
        for (key, old, new) in changed {
            let old_words = entity_words(old);
            let new_words = entity_words(new);
            if old_words == new_words {
                continue;
            }
            let id = self.id_of(key);
            for word in old_words.difference(&new_words) {
                delta.entry(word.clone()).or_default().0.insert(id);
            }
            for word in new_words.difference(&old_words) {
                delta.entry(word.clone()).or_default().1.insert(id);
            }
            if new_words.is_empty() {
                emptied.push(key);
            }
        }
        let mut trigram_delta: BTreeMap<Trigram, Delta<Arc<str>>> = BTreeMap::new();
        for (word, (gone, added)) in delta {
            let (word_key, mut refs): (Arc<str>, Postings) =
                match self.words.get_key_value(word.as_str()) {
                    Some((k, v)) => (k.clone(), v.clone()),
                    None => (Arc::from(word.as_str()), Postings::default()),
                };
            let was_empty = refs.is_empty();
            refs.apply(&gone, added);
            if refs.is_empty() {
                self.words.remove(&word_key);
                if !was_empty {
                    for t in word_trigrams(&word) {
                        trigram_delta
                            .entry(t)
                            .or_default()
                            .0
                            .insert(word_key.clone());
                    }
                }
            } else {
                self.words.insert(word_key.clone(), refs);
                if was_empty {
                    for t in word_trigrams(&word) {
                        trigram_delta
                            .entry(t)
                            .or_default()
                            .1
                            .insert(word_key.clone());
                    }
                }
            }
        }
        for (trigram, (gone, added)) in trigram_delta {
            let mut list = self.trigrams.get(&trigram).cloned().unwrap_or_default();
            list.apply(&gone, added);
            if list.is_empty() {
                self.trigrams.remove(&trigram);
            } else {
                self.trigrams.insert(trigram, list);
            }
        }
        for key in emptied {
            if let Some(id) = self.ids.remove(key) {
                if let Some(slot) = self.refs.get_mut(id as usize) {
                    *slot = None;
                }
                self.free.push(id);
            }
        }
    }

    /// The entity's id, given now if it has none (a free one first).
    fn id_of(&mut self, key: &Arc<str>) -> u32 {
        if let Some(id) = self.ids.get(key) {
            return *id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.refs.get_mut(id as usize) {
                    *slot = Some(key.clone());
                }
                id
            }
            None => {
                // Ids are reused, so there are never more than entities held at once:
                // far below `u32::MAX` (each takes a kilobyte or more).
                let id = u32::try_from(self.refs.len()).unwrap_or(u32::MAX);
                self.refs.push_back(Some(key.clone()));
                id
            }
        };
        self.ids.insert(key.clone(), id);
        id
    }

    /// The ref of the entity with this id.
    fn key(&self, id: u32) -> Option<&Arc<str>> {
        self.refs.get(id as usize).and_then(Option::as_ref)
    }

    /// The entities `query` may match among `entities`, each with what the index already
    /// tells about it; [`Matching`] decides and scores them. `by_name` (lower-cased name,
    /// ref) gives the names the text equals or prefixes.
    ///
    /// Work follows the matches, not the catalog: candidates come from the word and
    /// trigram maps; only a text without any alphanumeric word takes every entity. An
    /// entity is looked up only where its text, its filter or its score is needed.
    pub(crate) fn matching<'a>(
        &'a self,
        entities: &'a PMap<Arc<str>, Arc<Entity>>,
        by_name: &'a imbl::OrdSet<NameKey>,
        query: &'a TextQuery,
    ) -> Matching<'a> {
        let mut similarity = Similarity::new(query);
        let (near, best_word) = self.near_misses(query, &mut similarity);
        // A text's similarity to a one-word query is its best word's; longer queries
        // compare runs of words, bounded by 1 only.
        let ws_bound = if query.terms.len() == 1 {
            best_word
        } else {
            1.0
        };
        // One-word queries' near misses are decided by the word's similarity; longer
        // ones are candidates only, checked against the whole text.
        let verified = query.terms.len() <= 1;
        let mut candidates: Vec<Candidate<'a>> = Vec::new();
        if let [term] = &query.terms[..] {
            // One word: the words holding it include those it prefixes. Each word's
            // (prefixes, near miss); one word alone gives distinct entities.
            let mut words: BTreeMap<&Arc<str>, (bool, bool)> = BTreeMap::new();
            for word in self.words_containing(term) {
                words.entry(word).or_default().0 = word.starts_with(term.as_str());
            }
            for word in &near {
                words.entry(word).or_default().1 = true;
            }
            if let [(word, (all_terms, near))] = words.iter().collect::<Vec<_>>()[..] {
                // By id: a posting names a live entity (an id is given back only
                // once its last word is gone), and its ref is read only if needed.
                candidates.extend(self.words.get(*word).into_iter().flatten().map(|id| {
                    Candidate {
                        holder: Holder::Id(*id),
                        all_terms: *all_terms,
                        near: *near,
                    }
                }));
            } else {
                let mut found: HashMap<u32, (bool, bool)> = HashMap::default();
                for (word, (prefixes, near)) in words {
                    for id in self.words.get(word).into_iter().flatten() {
                        let flags = found.entry(*id).or_default();
                        flags.0 |= prefixes;
                        flags.1 |= near;
                    }
                }
                candidates.extend(found.into_iter().map(|(id, (all_terms, near))| Candidate {
                    holder: Holder::Id(id),
                    all_terms,
                    near,
                }));
            }
        } else {
            // ref -> (every word prefixes a word, holds a near miss already verified)
            let mut found: HashMap<&'a Arc<str>, (bool, bool)> = HashMap::default();
            match self.substring_candidates(query) {
                Some(ids) => found.extend(
                    ids.into_iter()
                        .filter_map(|id| self.key(id))
                        .map(|r| (r, (false, false))),
                ),
                None => found.extend(entities.keys().map(|r| (r, (false, false)))),
            }
            for key in self.prefixed(query).into_iter().flatten() {
                if let Some(key) = self.key(key) {
                    found.entry(key).or_default().0 = true;
                }
            }
            for word in &near {
                for id in self.words.get(*word).into_iter().flatten() {
                    if let Some(key) = self.key(*id) {
                        found.entry(key).or_default().1 |= verified;
                    }
                }
            }
            candidates.extend(found.into_iter().map(|(key, (all_terms, near))| Candidate {
                holder: Holder::Ref(key),
                all_terms,
                near,
            }));
        }
        // Names the text prefixes (exact: equals), from the ordered name index.
        // Kept by id too: a candidate found by id is told apart without reading its ref.
        let mut named: HashMap<&str, bool> = HashMap::default();
        let mut named_ids: HashMap<u32, bool> = HashMap::default();
        let from = NameKey::at(&query.lower, "");
        for key in by_name.range((Bound::Included(from), Bound::Unbounded)) {
            let name = key.name();
            if !name.starts_with(query.lower.as_str()) {
                break;
            }
            let exact = name == query.lower;
            named.insert(&**key.entity_ref(), exact);
            if let Some(id) = self.ids.get(&**key.entity_ref()) {
                named_ids.insert(*id, exact);
            }
        }
        Matching {
            index: self,
            query,
            entities,
            named,
            named_ids,
            similarity,
            candidates,
            ws_bound,
        }
    }

    /// Entities that may hold the text as a substring: each of its alphanumeric words is a
    /// substring of one of their words. `None` when the text has no such word (scan all).
    fn substring_candidates(&self, query: &TextQuery) -> Option<HashSet<u32>> {
        let mut result: Option<HashSet<u32>> = None;
        for token in &query.terms {
            let mut holders: HashSet<u32> = HashSet::default();
            for word in self.words_containing(token) {
                for entity in self.words.get(word).into_iter().flatten() {
                    if result.as_ref().is_none_or(|r| r.contains(entity)) {
                        holders.insert(*entity);
                    }
                }
            }
            result = Some(holders);
        }
        result
    }

    /// Words holding `token` as a substring: through the trigram map for three characters
    /// or more, else by a pass over the words.
    fn words_containing<'a>(&'a self, token: &'a str) -> Vec<&'a Arc<str>> {
        let trigrams = inner_trigrams(token);
        let Some((first, rest)) = trigrams.split_first() else {
            return self.words.keys().filter(|w| w.contains(token)).collect();
        };
        let Some(list) = self.trigrams.get(first) else {
            return Vec::new();
        };
        let others: Vec<&WordList> = rest.iter().filter_map(|t| self.trigrams.get(t)).collect();
        if others.len() < rest.len() {
            return Vec::new();
        }
        list.iter()
            .filter(|w| others.iter().all(|o| o.contains(*w)) && w.contains(token))
            .collect()
    }

    /// Entities where every query word prefixes one of their words; `None` when the query
    /// has no words (punctuation only).
    fn prefixed(&self, query: &TextQuery) -> Option<HashSet<u32>> {
        let mut result: Option<HashSet<u32>> = None;
        for term in &query.terms {
            let mut hits: HashSet<u32> = HashSet::default();
            let start: Bound<&str> = Bound::Included(term.as_str());
            for (word, refs) in self.words.range::<_, str>((start, Bound::Unbounded)) {
                if !word.starts_with(term.as_str()) {
                    break;
                }
                match &result {
                    Some(previous) => {
                        hits.extend(refs.iter().filter(|r| previous.contains(*r)).cloned())
                    }
                    None => hits.extend(refs.iter().cloned()),
                }
            }
            result = Some(hits);
        }
        result
    }

    /// Entities holding a word whose similarity to the query reaches the threshold. A word
    /// sharing too few of the query's trigrams cannot, so only those sharing enough are
    /// scored; for a query of several words, a word of the run holds at least its share.
    ///
    /// Also a bound on any text's word similarity to a one-word query (the best word's).
    fn near_misses(&self, query: &TextQuery, similarity: &mut Similarity) -> (Vec<&Arc<str>>, f64) {
        let query_trigrams = &similarity.query.clone();
        let run = query.terms.len().max(1) as f64;
        let needed = (WORD_SIMILARITY_THRESHOLD * query_trigrams.len() as f64 / run).ceil();
        let mut shared: HashMap<&Arc<str>, usize> = HashMap::default();
        for trigram in query_trigrams {
            for word in self.trigrams.get(trigram).into_iter().flatten() {
                *shared.entry(word).or_insert(0) += 1;
            }
        }
        let mut out = Vec::new();
        // No word shares more than this share of a one-word query's trigrams, and its
        // similarity is at most that share (fewer found, a longer extent).
        let total = query_trigrams.len().max(1) as f64;
        let mut bound: f64 = 0.0;
        for (word, count) in shared {
            if (count as f64) < needed {
                bound = bound.max(count as f64 / total);
                continue;
            }
            if query.terms.len() <= 1 {
                bound = bound.max(similarity.of_window(&[word]));
            }
            // One-word queries are decided here; longer ones by the caller's recheck of
            // every holder's text.
            if query.terms.len() <= 1 && similarity.of_window(&[word]) < WORD_SIMILARITY_THRESHOLD {
                continue;
            }
            out.push(word);
        }
        (out, bound)
    }
}

/// How a candidate was found: by its id in the index (its ref read only when needed: at
/// 100,000 entities a common word has thousands of holders, and reading each ref is a
/// cache miss), or by its ref.
#[derive(Clone, Copy)]
enum Holder<'a> {
    Id(u32),
    Ref(&'a Arc<str>),
}

/// An entity the index found for a query, with what the index told about it.
pub(crate) struct Candidate<'a> {
    holder: Holder<'a>,
    /// Every query word prefixes one of its words.
    all_terms: bool,
    /// It holds a word whose similarity to a one-word query reaches the threshold.
    near: bool,
}

/// One query's candidates, decided and scored lazily: word similarity, the costly part,
/// is computed only where the match or the page needs it, and an entity is looked up
/// only where its text, filter or score is.
pub(crate) struct Matching<'a> {
    index: &'a SearchIndex,
    query: &'a TextQuery,
    entities: &'a PMap<Arc<str>, Arc<Entity>>,
    /// Refs whose name the text prefixes -> whether it equals it.
    named: HashMap<&'a str, bool>,
    /// The same, by id (those the index holds).
    named_ids: HashMap<u32, bool>,
    similarity: Similarity,
    candidates: Vec<Candidate<'a>>,
    /// No candidate's word similarity is above it.
    ws_bound: f64,
}

/// A scored match in page order: `a < b` when `a` comes first (higher score, then
/// smaller ref).
struct Ranked {
    score: f64,
    entity: Arc<Entity>,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.entity.entity_ref.cmp(&other.entity.entity_ref))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// A match waiting to be scored, with its entity and word similarity when deciding
/// needed them.
type Member<'a> = (Candidate<'a>, Option<Arc<Entity>>, Option<f64>);

/// A page of ranked matches: the rows, whether more follow, how many match in all.
pub(crate) type Top = (Vec<(Arc<Entity>, f64)>, bool, usize);

/// A filter over matches, or none (every match kept, no entity looked up for it).
pub(crate) type Keep<'k> = Option<&'k dyn Fn(&Entity) -> bool>;

impl<'a> Matching<'a> {
    /// The candidate's ref (`None` only for an id the index no longer gives: never for a
    /// posting).
    fn key(&self, candidate: &Candidate<'a>) -> Option<&'a Arc<str>> {
        match candidate.holder {
            Holder::Id(id) => self.index.key(id),
            Holder::Ref(key) => Some(key),
        }
    }

    /// Whether the candidate matches (a substring of the search text, every query word
    /// prefixing a word, or word similarity at or above the threshold) and `keep` keeps
    /// it: `Some((entity if looked up, ws if computed))`.
    fn decide(
        &mut self,
        candidate: &Candidate<'a>,
        keep: Keep<'_>,
    ) -> Option<(Option<Arc<Entity>>, Option<f64>)> {
        let mut entity = None;
        if let Some(keep) = keep {
            let found = self.entities.get(self.key(candidate)?)?;
            if !keep(found) {
                return None;
            }
            entity = Some(found.clone());
        }
        if candidate.all_terms || candidate.near {
            return Some((entity, None));
        }
        let found = match entity {
            Some(found) => found,
            None => self.entities.get(self.key(candidate)?)?.clone(),
        };
        let text = &found.keys.search_text;
        if text.contains(&self.query.lower) {
            return Some((Some(found), None));
        }
        let ws = self.similarity.of_text(text);
        (ws >= WORD_SIMILARITY_THRESHOLD).then_some((Some(found), Some(ws)))
    }

    /// (name equals the text, name starts with it).
    fn named(&self, candidate: &Candidate<'a>) -> (bool, bool) {
        let found = match candidate.holder {
            Holder::Id(id) => self.named_ids.get(&id),
            Holder::Ref(key) => self.named.get(&**key),
        };
        match found {
            Some(exact) => (*exact, true),
            None => (false, false),
        }
    }

    /// Every match with its score, in no particular order (what the tests compare).
    #[cfg(test)]
    pub(crate) fn scores(mut self) -> Vec<(Arc<Entity>, f64)> {
        let candidates = std::mem::take(&mut self.candidates);
        let mut out = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let Some((entity, ws)) = self.decide(&candidate, None) else {
                continue;
            };
            let Some(entity) = entity.or_else(|| self.entities.get(self.key(&candidate)?).cloned())
            else {
                continue;
            };
            let ws = ws.unwrap_or_else(|| self.similarity.of_text(&entity.keys.search_text));
            let score = score_with(&entity, self.query, ws, candidate.all_terms);
            out.push((entity, score));
        }
        out
    }

    /// Every match `keep` keeps, unscored.
    pub(crate) fn matches(mut self, keep: Keep<'_>) -> Vec<Arc<Entity>> {
        let candidates = std::mem::take(&mut self.candidates);
        let mut out = Vec::new();
        for candidate in candidates {
            if let Some((entity, _)) = self.decide(&candidate, keep) {
                if let Some(entity) =
                    entity.or_else(|| self.entities.get(self.key(&candidate)?).cloned())
                {
                    out.push(entity);
                }
            }
        }
        out
    }

    /// How many matches `keep` keeps.
    pub(crate) fn count(mut self, keep: Keep<'_>) -> usize {
        let candidates = std::mem::take(&mut self.candidates);
        candidates
            .iter()
            .filter(|c| self.decide(c, keep).is_some())
            .count()
    }

    /// The first `first` matches `keep` keeps after `after` (score, ref), best first,
    /// whether more follow, and how many `keep` keeps in all.
    ///
    /// A match's score is its bonuses (exact name, name prefix, every word) plus a word
    /// similarity of at most 1 (at most the best word's, for one word): matches are grouped by their bonuses, and the groups taken
    /// best first, each in ref order, scoring (the costly part) only until no match left
    /// can enter the page.
    pub(crate) fn top(mut self, keep: Keep<'_>, first: usize, after: Option<(f64, &str)>) -> Top {
        let candidates = std::mem::take(&mut self.candidates);
        let mut total = 0;
        // (best score possible, members)
        let mut groups: Vec<(f64, Vec<Member<'a>>)> = Vec::new();
        for candidate in candidates {
            let Some((entity, ws)) = self.decide(&candidate, keep) else {
                continue;
            };
            total += 1;
            let (exact, prefix) = self.named(&candidate);
            let best = score_of(self.ws_bound, exact, prefix, candidate.all_terms);
            match groups.iter_mut().find(|(b, _)| *b == best) {
                Some((_, members)) => members.push((candidate, entity, ws)),
                None => groups.push((best, vec![(candidate, entity, ws)])),
            }
        }
        groups.sort_by(|a, b| b.0.total_cmp(&a.0));
        let keep_rows = first + 1; // one more tells whether more follow
        let mut page: BinaryHeap<Ranked> = BinaryHeap::with_capacity(keep_rows + 1);
        let by_ref = |a: &(&Arc<str>, Member), b: &(&Arc<str>, Member)| a.0.cmp(b.0);
        for (best, group) in groups {
            if page.len() == keep_rows && page.peek().is_some_and(|worst| best < worst.score) {
                break; // every later group scores below the page
            }
            // Refs are read only for the groups that may reach the page.
            let mut members: Vec<(&Arc<str>, Member)> = group
                .into_iter()
                .filter_map(|member| Some((self.key(&member.0)?, member)))
                .collect();
            let (mut start, mut chunk) = (0, keep_rows);
            'group: while start < members.len() {
                // The group's next refs in order, without sorting the whole group.
                let end = (start + chunk).min(members.len());
                if end < members.len() {
                    members[start..].select_nth_unstable_by(end - start - 1, by_ref);
                }
                members[start..end].sort_by(by_ref);
                for (key, (candidate, entity, ws)) in &members[start..end] {
                    if let Some(worst) = page.peek().filter(|_| page.len() == keep_rows) {
                        let below = best < worst.score
                            || (best == worst.score && **key > worst.entity.entity_ref);
                        if below {
                            // It and the rest of the group (same bound, larger refs)
                            // rank after the page.
                            break 'group;
                        }
                    }
                    let Some(entity) = entity.clone().or_else(|| self.entities.get(*key).cloned())
                    else {
                        continue;
                    };
                    let ws =
                        ws.unwrap_or_else(|| self.similarity.of_text(&entity.keys.search_text));
                    let score = score_with(&entity, self.query, ws, candidate.all_terms);
                    let after_cursor = match after {
                        Some((s, r)) => score < s || (score == s && &*entity.entity_ref > r),
                        None => true,
                    };
                    if after_cursor {
                        page.push(Ranked { score, entity });
                        if page.len() > keep_rows {
                            page.pop();
                        }
                    }
                }
                start = end;
                chunk *= 2;
            }
        }
        let has_next = page.len() > first;
        let mut rows = page.into_sorted_vec();
        rows.truncate(first);
        (
            rows.into_iter().map(|r| (r.entity, r.score)).collect(),
            has_next,
            total,
        )
    }
}

/// The store's score for a match of word similarity `ws`: 3 for a name equal to the
/// text, 1 for a name it prefixes, plus the word similarity, plus 0.1 when every word
/// prefixes a word (the store adds `ts_rank`, of that order for short texts). Added in
/// this order always, so the bound computed with `ws` = 1 is never below a score.
fn score_with(entity: &Entity, query: &TextQuery, ws: f64, all_terms: bool) -> f64 {
    let name = entity.key_name();
    score_of(
        ws,
        *name == query.lower,
        name.starts_with(&query.lower),
        all_terms,
    )
}

fn score_of(ws: f64, exact: bool, prefix: bool, all_terms: bool) -> f64 {
    let mut score = ws;
    if exact {
        score += 3.0;
    }
    if prefix {
        score += 1.0;
    }
    if all_terms {
        score += 0.1;
    }
    score
}

fn entity_words(entity: Option<&Entity>) -> BTreeSet<String> {
    entity
        .map(|e| words(&e.keys.search_text).map(str::to_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::query::{Filter, TextQueryError, MAX_SEARCH_TERMS};
    use crate::snapshot::{LogEvent, Snapshot};
    use almanac_domain::CatalogEvent;
    use chrono::Utc;
    use serde_json::json;

    /// Every entity scored without the index: what the index's candidates must equal.
    fn by_scan(snapshot: &Snapshot, query: &TextQuery) -> Vec<(String, f64)> {
        let mut similarity = Similarity::new(query);
        let mut out: Vec<(String, f64)> = snapshot
            .entities()
            .filter_map(|e| {
                let text: Vec<&str> = words(&e.keys.search_text).collect();
                let all_terms = !query.terms.is_empty()
                    && query
                        .terms
                        .iter()
                        .all(|t| text.iter().any(|w| w.starts_with(t.as_str())));
                // The definition, word for word: the text, its words, its similarity.
                let text = &*e.keys.search_text;
                let ws = similarity.of_text(text);
                let matched =
                    all_terms || ws >= WORD_SIMILARITY_THRESHOLD || text.contains(&query.lower);
                matched.then(|| {
                    (
                        e.entity_ref.to_string(),
                        score_with(e, query, ws, all_terms),
                    )
                })
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn the_index_finds_exactly_what_a_scan_of_every_entity_finds() {
        let names = [
            ("payments", "Takes payments for orders"),
            ("payments-gateway", "The gateway in front of card networks"),
            ("ledger", "Double-entry ledger of every payment"),
            ("ledger-export", "Exports the ledger nightly"),
            ("checkout", "The checkout web site, 50% of traffic"),
            ("chk", "Short name"),
            ("orders", "Order history and returns"),
            ("a", "x"),
        ];
        let events: Vec<LogEvent> = names
            .iter()
            .enumerate()
            .map(|(i, (name, description))| LogEvent {
                position: i as i64 + 1,
                stream: format!("component:default/{name}"),
                version: 1,
                recorded_at: Utc::now(),
                event: CatalogEvent::EntityRegistered {
                    descriptor: json!({
                        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                        "metadata": { "name": name, "namespace": "default", "description": description, "tags": ["java"] },
                        "spec": { "type": "service", "lifecycle": "production", "owner": "team" },
                    }),
                },
            })
            .collect();
        let snapshot = Snapshot::from_log(&events).snapshot;
        let queries = [
            "payments",
            "paym",
            "PAYMENT",
            "ledgr",
            "ledger exp",
            "ledger export",
            "led exp",
            "gateway card",
            "gatway",
            "checkot",
            "50%",
            "of",
            "e",
            "ch",
            "--",
            "-entry",
            "entry ledger",
            "zzz",
            "java",
            "returns history",
        ];
        for text in queries {
            let query = TextQuery::parse(text).unwrap();
            let mut found: Vec<(String, f64)> = snapshot
                .text_scores(&query)
                .into_iter()
                .map(|(e, s)| (e.entity_ref.to_string(), s))
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(found, by_scan(&snapshot, &query), "{text:?}");
        }
    }

    #[test]
    fn pages_equal_every_match_sorted_by_score_then_ref() {
        // Many ties (same words, same scores) and names the text equals or prefixes, so
        // the page cut falls inside groups of equal bound.
        let names = [
            "ledger",
            "ledger-a",
            "ledger-b",
            "a-ledger",
            "b-ledger",
            "ledgers",
            "ledgr",
            "c-ledger-x",
            "d",
            "e",
            "ledge",
            "payments",
        ];
        let events: Vec<LogEvent> = names
            .iter()
            .enumerate()
            .map(|(i, name)| LogEvent {
                position: i as i64 + 1,
                stream: format!("component:default/{name}"),
                version: 1,
                recorded_at: Utc::now(),
                event: CatalogEvent::EntityRegistered {
                    descriptor: json!({
                        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                        "metadata": { "name": name, "namespace": "default",
                            "description": if i % 3 == 0 { "the ledger" } else { "a ledgr of payments" } },
                        "spec": { "type": "service", "lifecycle": "production", "owner": "team" },
                    }),
                },
            })
            .collect();
        let snapshot = Snapshot::from_log(&events).snapshot;
        for text in [
            "ledger",
            "ledgr",
            "led",
            "payments ledger",
            "of",
            "e",
            "zzz",
        ] {
            let query = TextQuery::parse(text).unwrap();
            let mut expected: Vec<(String, f64)> = by_scan(&snapshot, &query);
            expected.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for first in [0, 1, 2, 3, 5, 100] {
                let mut got: Vec<(String, f64)> = Vec::new();
                let mut after: Option<(f64, String)> = None;
                loop {
                    let page = snapshot.search(
                        &query,
                        &Filter::all(),
                        first,
                        after.as_ref().map(|(s, r)| (*s, r.as_str())),
                    );
                    assert_eq!(page.total, expected.len(), "{text:?}");
                    let rows: Vec<(String, f64)> = page
                        .rows
                        .iter()
                        .map(|r| (r.entity.entity_ref.to_string(), r.score))
                        .collect();
                    assert_eq!(
                        page.has_next,
                        got.len() + rows.len() < expected.len(),
                        "{text:?} {first}"
                    );
                    got.extend(rows);
                    if first == 0 || !page.has_next {
                        break;
                    }
                    after = got.last().map(|(r, s)| (*s, r.clone()));
                }
                if first > 0 {
                    assert_eq!(got, expected, "{text:?} first {first}");
                }
            }
            assert_eq!(
                snapshot.count_search(&query, &Filter::all()),
                expected.len() as i64
            );
        }
    }

    /// Postings hold ids given within the index: an id freed by a removal is given to the
    /// next entity, and every query still finds exactly what a scan finds, batch after
    /// batch; the index equals one folded from the whole log at once (other ids).
    #[test]
    fn ids_freed_by_removals_are_reused_and_answers_stay_those_of_a_scan() {
        let register = |position: i64, name: &str, description: &str| LogEvent {
            position,
            stream: format!("component:default/{name}"),
            version: 1,
            recorded_at: Utc::now(),
            event: CatalogEvent::EntityRegistered {
                descriptor: json!({
                    "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                    "metadata": { "name": name, "namespace": "default", "description": description },
                    "spec": { "type": "service", "lifecycle": "production", "owner": "team" },
                }),
            },
        };
        let remove = |position: i64, name: &str| LogEvent {
            position,
            stream: format!("component:default/{name}"),
            version: 2,
            recorded_at: Utc::now(),
            event: CatalogEvent::EntityRemoved {
                reason: almanac_domain::RemovalReason::GoneFromSource,
            },
        };
        let batches = vec![
            vec![
                register(1, "ledger", "the ledger of payments"),
                register(2, "payments", "takes payments"),
                register(3, "checkout", "the checkout site"),
            ],
            vec![remove(4, "ledger"), remove(5, "checkout")],
            vec![
                register(6, "ledger-export", "exports the ledger"),
                register(7, "orders", "order history"),
                register(8, "returns", "returns of orders"),
            ],
        ];
        let mut snapshot = Snapshot::empty();
        for batch in &batches {
            snapshot = snapshot.advance(batch).snapshot;
            for text in [
                "ledger",
                "payments",
                "order",
                "ledgr",
                "the",
                "exports ledger",
                "zzz",
            ] {
                let query = TextQuery::parse(text).unwrap();
                let mut found: Vec<(String, f64)> = snapshot
                    .text_scores(&query)
                    .into_iter()
                    .map(|(e, s)| (e.entity_ref.to_string(), s))
                    .collect();
                found.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(found, by_scan(&snapshot, &query), "{text:?}");
            }
        }
        // Two ids freed, two reused: four ids for the four entities at once at most.
        assert_eq!(snapshot.state.search.refs.len(), 4);
        assert_eq!(snapshot.state.search.ids.len(), 4);
        let whole: Vec<LogEvent> = batches.into_iter().flatten().collect();
        assert_eq!(Snapshot::from_log(&whole).snapshot, snapshot);
    }

    #[test]
    fn word_similarity_matches_pg_trgm_on_its_documented_example() {
        let query: HashSet<Trigram> = word_trigrams("word").into_iter().collect();
        let text: Vec<Trigram> = ["two", "words"]
            .iter()
            .flat_map(|w| word_trigrams(w))
            .collect();
        let sim = extent_similarity(&query, &text);
        assert!((sim - 0.8).abs() < 1e-9, "{sim}");
    }

    #[test]
    fn text_is_normalised_and_bounded() {
        assert_eq!(
            TextQuery::parse("  a \t\n b ").map(|q| q.raw),
            Ok("a b".into())
        );
        assert_eq!(TextQuery::parse(" \t"), Err(TextQueryError::Empty));
        assert_eq!(TextQuery::parse("a\0b"), Err(TextQueryError::Nul));
        let words = vec!["w"; MAX_SEARCH_TERMS + 1].join(" ");
        assert_eq!(
            TextQuery::parse(&words),
            Err(TextQueryError::TooManyTerms {
                terms: MAX_SEARCH_TERMS + 1
            })
        );
    }
}
