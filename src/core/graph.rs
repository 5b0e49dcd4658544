//! Who blocks whom: the blocking graph built from one probe pass.
//!
//! Locks alone mislead. Every compiling cargo holds `.package-cache-mutate` shared, including a
//! cargo that is itself waiting for a build directory, so "the holders of a lock" mixes blockers
//! with their victims. This module turns the kernel's holds and waits into *wait-for* edges
//! (waiter → each holder whose mode conflicts), adds one edge from every lock-holding ancestor
//! of a waiter to that waiter (a cargo waits for its build script, which waits for its nested
//! cargo), gives every process one role, and groups them into incidents: a root blocker and
//! everyone transitively blocked by it. Cycles — including a waiter whose own ancestor holds the
//! lock it waits for — are deadlocks.
//!
//! Pure: it reads sightings and process facts, so every case is unit-tested without an OS.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::model::{Deadlock, FileKey, LockMode, LockSighting, ProcessFacts, Role};

/// One hold or one wait: a process, a lock file and the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edge {
    /// The process.
    pub pid: u32,
    /// The lock file.
    pub lock: FileKey,
    /// Shared or exclusive.
    pub mode: LockMode,
}

/// A node of the wait-for graph: a process, or the unseen holder of a lock (a process this user
/// cannot inspect, or one that vanished mid-pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Node {
    Pid(u32),
    Unseen(FileKey),
}

/// A root blocker and everyone it blocks, directly or through a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The process to look at (for a deadlock cycle: the one to stop). `None` when the lock
    /// is held by a process nobody here can see.
    pub blocker: Option<u32>,
    /// Everyone blocked, nearest first.
    pub blocked: Vec<u32>,
    /// The longest wait chain, blocked first and the root blocker last.
    pub chain: Vec<u32>,
    /// The locks the blocker holds that matter here: those someone in this incident waits for,
    /// then those it holds exclusively. For an unseen blocker: the lock waited for.
    pub locks: Vec<FileKey>,
    /// Why it can never end on its own.
    pub deadlock: Option<Deadlock>,
}

/// The blocking graph of one pass.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every hold of a process whose facts are known.
    pub holds: Vec<Edge>,
    /// Every wait of a process whose facts are known.
    pub waits: Vec<Edge>,
    /// Locks held (in this mode) by nobody this pass could name: another user's process, or
    /// one hidden from this user.
    unseen: Vec<(FileKey, LockMode)>,
    /// Waiter → the processes (or unseen holders) it waits for directly.
    waits_for: BTreeMap<u32, BTreeSet<Node>>,
    /// A process holding a lock exclusively beside another that no ancestor explains → the
    /// one that stands for both (see `pair_partners`).
    partners: BTreeMap<u32, u32>,
    /// (holder, its waiting descendant): the holder waits for that descendant to finish.
    child_waits: BTreeSet<(u32, u32)>,
    roles: BTreeMap<u32, Role>,
    /// The incidents, ordered by blocker pid (unseen blockers last).
    pub incidents: Vec<Incident>,
}

impl Graph {
    /// Builds the graph from a pass. Processes without facts (they vanished mid-pass) are left
    /// out; a lock whose only holders are unknown keeps its waiters blocked by "unseen".
    pub fn build(sightings: &[LockSighting], facts: &HashMap<u32, ProcessFacts>) -> Graph {
        let mut g = Graph::default();
        for s in sightings {
            let visible: Vec<_> = s
                .holders
                .iter()
                .filter(|h| facts.contains_key(&h.pid))
                .collect();
            for h in &visible {
                g.holds.push(Edge {
                    pid: h.pid,
                    lock: s.key,
                    mode: h.mode,
                });
            }
            let hidden = s.holders.first().map(|h| h.mode).or(s.unseen);
            if visible.is_empty()
                && let Some(mode) = hidden
            {
                g.unseen.push((s.key, mode));
            }
            // A process listed as both holding and waiting for one lock is a table read while
            // it was being granted (the kernel's table is read a page at a time): it holds.
            let holds = |pid: u32| visible.iter().any(|h| h.pid == pid);
            for w in s.waiters.iter().filter(|w| facts.contains_key(&w.pid)) {
                if holds(w.pid) {
                    continue;
                }
                g.waits.push(Edge {
                    pid: w.pid,
                    lock: s.key,
                    mode: w.mode,
                });
            }
        }
        g.pair_partners(facts);
        g.link(facts);
        g.find_incidents(facts);
        g.assign_roles(facts);
        g
    }

    /// The role of a process in this pass, `None` when it neither holds nor waits.
    pub fn role(&self, pid: u32) -> Option<Role> {
        self.roles.get(&pid).copied()
    }

    /// Whether the process waits: for a lock, or for a descendant that waits for one.
    pub fn is_blocked(&self, pid: u32) -> bool {
        self.waits.iter().any(|w| w.pid == pid) || self.waits_on_child(pid).is_some()
    }

    /// The waiting descendant `pid` waits for, when it holds locks while a process it started
    /// (a build script's nested cargo) waits for one.
    pub fn waits_on_child(&self, pid: u32) -> Option<u32> {
        self.child_waits
            .iter()
            .find(|(parent, _)| *parent == pid)
            .map(|(_, child)| *child)
    }

    /// Whether `pid` holds `lock` only as part of a parent's tree (a child that inherited the
    /// descriptor of a parent that holds it too).
    pub fn part_of_parent(
        &self,
        pid: u32,
        lock: FileKey,
        facts: &HashMap<u32, ProcessFacts>,
    ) -> bool {
        self.covered(pid, lock, facts)
    }

    /// The processes `pid` waits for directly (holders whose mode conflicts with its request).
    pub fn waits_for(&self, pid: u32) -> Vec<u32> {
        self.waits_for
            .get(&pid)
            .into_iter()
            .flatten()
            .filter_map(|n| match n {
                Node::Pid(p) => Some(*p),
                Node::Unseen(_) => None,
            })
            .collect()
    }

    /// The incident whose blocker is `pid`, or the process `pid` shares its descriptor with.
    pub fn incident_of(&self, pid: u32) -> Option<&Incident> {
        let blocker = self.partner_of(pid).unwrap_or(pid);
        self.incidents.iter().find(|i| i.blocker == Some(blocker))
    }

    /// The process standing for `pid` as a blocker when both hold one lock exclusively
    /// through the same descriptor.
    pub fn partner_of(&self, pid: u32) -> Option<u32> {
        self.partners.get(&pid).copied()
    }

    /// The incidents in which `pid` is blocked.
    pub fn incidents_blocking(&self, pid: u32) -> Vec<&Incident> {
        self.incidents
            .iter()
            .filter(|i| i.blocked.contains(&pid))
            .collect()
    }

    /// Whether `pid` holds `lock` only as part of an ancestor's tree: a child that inherited the
    /// descriptor of a parent that still holds the lock is that parent's, not a blocker of its
    /// own (stopping the parent stops it too).
    fn covered(&self, pid: u32, lock: FileKey, facts: &HashMap<u32, ProcessFacts>) -> bool {
        let Some(f) = facts.get(&pid) else {
            return false;
        };
        f.ancestors.iter().any(|a| {
            self.holds
                .iter()
                .any(|h| h.pid == a.pid && h.lock == lock && !self.is_blocked(a.pid))
        })
    }

    /// Processes holding one lock exclusively where no ancestor of theirs holds it share one
    /// open file description (two exclusive flocks cannot coexist): two children that
    /// inherited a dead locker's descriptor, say. They are one blocker, not two incidents
    /// with the same waiters: the first not waiting itself, then the lowest pid, stands for
    /// them; the report names the others as sharing its descriptor.
    fn pair_partners(&mut self, facts: &HashMap<u32, ProcessFacts>) {
        let mut by_lock: BTreeMap<FileKey, Vec<(bool, u32)>> = BTreeMap::new();
        for h in &self.holds {
            if h.mode == LockMode::Exclusive && !self.covered(h.pid, h.lock, facts) {
                let waits = self.waits.iter().any(|w| w.pid == h.pid);
                by_lock.entry(h.lock).or_default().push((waits, h.pid));
            }
        }
        for mut holders in by_lock.into_values() {
            holders.sort_unstable();
            holders.dedup();
            let Some(&(_, first)) = holders.first() else {
                continue;
            };
            for &(_, pid) in &holders[1..] {
                if pid != first && !self.partners.contains_key(&first) {
                    self.partners.entry(pid).or_insert(first);
                }
            }
        }
    }

    /// Turns each wait into edges to the holders whose mode conflicts with it.
    fn link(&mut self, facts: &HashMap<u32, ProcessFacts>) {
        for w in &self.waits {
            let holders: Vec<&Edge> = self
                .holds
                .iter()
                .filter(|h| h.lock == w.lock && !self.covered(h.pid, h.lock, facts))
                .collect();
            let conflicting: Vec<&Edge> = holders
                .iter()
                .copied()
                .filter(|h| w.mode == LockMode::Exclusive || h.mode == LockMode::Exclusive)
                .collect();
            // A shared request behind shared holders waits for something this pass did not
            // catch (a queued exclusive request, say): every holder is then its blocker.
            let chosen = if conflicting.is_empty() {
                holders
            } else {
                conflicting
            };
            let chosen: Vec<Node> = chosen
                .iter()
                .map(|h| Node::Pid(self.partner_of(h.pid).unwrap_or(h.pid)))
                .collect();
            // Nobody to name: a holder hidden from this user, or nobody at all (a waiter stopped
            // in its request for a lock that is free now waits for no one and roots nothing).
            let hidden = self.unseen.iter().any(|(k, _)| *k == w.lock);
            if chosen.is_empty() && !hidden {
                continue;
            }
            let targets = self.waits_for.entry(w.pid).or_default();
            if chosen.is_empty() {
                targets.insert(Node::Unseen(w.lock));
            }
            targets.extend(chosen);
        }
        // A holder whose descendant waits is held up by that wait: its build cannot go on until
        // the nested cargo gets its lock.
        let waiters: BTreeSet<u32> = self.waits.iter().map(|w| w.pid).collect();
        for w in waiters {
            let Some(f) = facts.get(&w) else { continue };
            for a in &f.ancestors {
                if a.pid != w && self.holds.iter().any(|h| h.pid == a.pid) {
                    self.child_waits.insert((a.pid, w));
                    self.waits_for
                        .entry(a.pid)
                        .or_default()
                        .insert(Node::Pid(w));
                }
            }
        }
    }

    fn out(&self, n: Node) -> impl Iterator<Item = Node> + '_ {
        let set = match n {
            Node::Pid(p) => self.waits_for.get(&p),
            Node::Unseen(_) => None,
        };
        set.into_iter().flatten().copied()
    }

    /// Everything reachable from `n` by one or more wait edges.
    fn reach(&self, n: Node) -> BTreeSet<Node> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<Node> = self.out(n).collect();
        while let Some(m) = queue.pop_front() {
            if seen.insert(m) {
                queue.extend(self.out(m));
            }
        }
        seen
    }

    fn find_incidents(&mut self, facts: &HashMap<u32, ProcessFacts>) {
        let mut nodes: BTreeSet<Node> = BTreeSet::new();
        for (w, targets) in &self.waits_for {
            nodes.insert(Node::Pid(*w));
            nodes.extend(targets.iter().copied());
        }
        let reach: BTreeMap<Node, BTreeSet<Node>> =
            nodes.iter().map(|n| (*n, self.reach(*n))).collect();

        let mut roots: Vec<(Node, Option<Deadlock>)> = Vec::new();
        // Sinks: they wait for nobody (a running holder, or an unseen one).
        for n in &nodes {
            if self.out(*n).next().is_none() {
                roots.push((*n, None));
            }
        }
        // Cycles: each strongly connected set once, rooted at the member to stop (see
        // `victim`).
        let mut done: BTreeSet<Node> = BTreeSet::new();
        for n in &nodes {
            if done.contains(n) || !reach[n].contains(n) {
                continue;
            }
            let members: Vec<u32> = nodes
                .iter()
                .filter(|m| *m == n || (reach[n].contains(m) && reach[m].contains(n)))
                .filter_map(|m| match m {
                    Node::Pid(p) => Some(*p),
                    Node::Unseen(_) => None,
                })
                .collect();
            done.extend(members.iter().map(|p| Node::Pid(*p)));
            let victim = victim(&members, facts);
            let nested = self
                .child_waits
                .iter()
                .find(|(parent, child)| *parent == victim && members.contains(child));
            let deadlock = match nested {
                Some((holder, waiter)) => Deadlock::SelfWait {
                    waiter: *waiter,
                    holder: *holder,
                },
                None => Deadlock::Cycle { pids: members },
            };
            roots.push((Node::Pid(victim), Some(deadlock)));
        }

        for (root, deadlock) in roots {
            let incident = self.incident(root, deadlock, &reach);
            self.incidents.push(incident);
        }
        self.add_holding_incidents(facts);
        self.incidents
            .sort_by_key(|i| (i.blocker.is_none(), i.blocker, i.locks.clone()));
    }

    /// The incident rooted at `root`: everyone who reaches it, nearest first.
    fn incident(
        &self,
        root: Node,
        deadlock: Option<Deadlock>,
        reach: &BTreeMap<Node, BTreeSet<Node>>,
    ) -> Incident {
        // Breadth-first search against the edges: distance to the root and the next hop.
        let mut next_hop: BTreeMap<u32, Node> = BTreeMap::new();
        let mut order: Vec<u32> = Vec::new();
        let mut queue = VecDeque::from([root]);
        while let Some(n) = queue.pop_front() {
            for (w, targets) in &self.waits_for {
                let node = Node::Pid(*w);
                if node == root || next_hop.contains_key(w) || !targets.contains(&n) {
                    continue;
                }
                if !reach.get(&node).is_some_and(|r| r.contains(&root)) {
                    continue;
                }
                next_hop.insert(*w, n);
                order.push(*w);
                queue.push_back(node);
            }
        }
        let blocker = match root {
            Node::Pid(p) => Some(p),
            Node::Unseen(_) => None,
        };
        let mut chain = Vec::new();
        let mut at = order.last().map(|p| Node::Pid(*p));
        while let Some(Node::Pid(p)) = at {
            chain.push(p);
            if Node::Pid(p) == root {
                break;
            }
            at = next_hop.get(&p).copied();
        }
        if chain.is_empty()
            && let Some(b) = blocker
        {
            chain.push(b);
        }
        let waited: BTreeSet<FileKey> = self
            .waits
            .iter()
            .filter(|w| order.contains(&w.pid))
            .map(|w| w.lock)
            .collect();
        let locks = match root {
            Node::Unseen(key) => vec![key],
            Node::Pid(p) => self.blocker_locks(p, &waited),
        };
        Incident {
            blocker,
            blocked: order,
            chain,
            locks,
            deadlock,
        }
    }

    /// The locks `pid` holds that matter: contended ones first, then exclusive ones.
    fn blocker_locks(&self, pid: u32, waited: &BTreeSet<FileKey>) -> Vec<FileKey> {
        let mine = self.holds.iter().filter(|h| h.pid == pid);
        let mut contended: Vec<FileKey> = mine
            .clone()
            .filter(|h| waited.contains(&h.lock))
            .map(|h| h.lock)
            .collect();
        let exclusive = mine
            .filter(|h| h.mode == LockMode::Exclusive && !waited.contains(&h.lock))
            .map(|h| h.lock);
        contended.sort();
        contended.dedup();
        let mut rest: Vec<FileKey> = exclusive.collect();
        rest.sort();
        rest.dedup();
        contended.extend(rest);
        contended
    }

    /// A process that waits for nothing and holds a lock exclusively, with nobody waiting yet,
    /// is an incident too: the next build will block on it.
    fn add_holding_incidents(&mut self, facts: &HashMap<u32, ProcessFacts>) {
        let roots: BTreeSet<u32> = self.incidents.iter().filter_map(|i| i.blocker).collect();
        let mut holders: Vec<u32> = self
            .holds
            .iter()
            .filter(|h| h.mode == LockMode::Exclusive && !self.covered(h.pid, h.lock, facts))
            .map(|h| h.pid)
            .filter(|p| !roots.contains(p) && !self.is_blocked(*p))
            .filter(|p| !self.partners.contains_key(p))
            .collect();
        holders.sort_unstable();
        holders.dedup();
        for pid in holders {
            let locks = self.blocker_locks(pid, &BTreeSet::new());
            self.incidents.push(Incident {
                blocker: Some(pid),
                blocked: Vec::new(),
                chain: vec![pid],
                locks,
                deadlock: None,
            });
        }
        // Held exclusively by someone this user cannot see, and nobody waits (yet).
        let unseen: Vec<FileKey> = self
            .unseen
            .iter()
            .filter(|(_, mode)| *mode == LockMode::Exclusive)
            .map(|(key, _)| *key)
            .collect();
        for key in unseen {
            let known = self
                .incidents
                .iter()
                .any(|i| i.blocker.is_none() && i.locks.contains(&key));
            if !known {
                self.incidents.push(Incident {
                    blocker: None,
                    blocked: Vec::new(),
                    chain: Vec::new(),
                    locks: vec![key],
                    deadlock: None,
                });
            }
        }
    }

    fn assign_roles(&mut self, facts: &HashMap<u32, ProcessFacts>) {
        for h in &self.holds {
            self.roles.insert(h.pid, Role::Background);
        }
        for i in &self.incidents {
            if let Some(b) = i.blocker {
                self.roles.insert(b, Role::Blocker);
            }
        }
        // A child sharing an incident lock with its blocking parent is part of the blocker.
        let incident_locks: BTreeSet<FileKey> = self
            .incidents
            .iter()
            .filter(|i| i.blocker.is_some())
            .flat_map(|i| i.locks.iter().copied())
            .collect();
        for h in &self.holds {
            if incident_locks.contains(&h.lock) && self.covered(h.pid, h.lock, facts) {
                self.roles.insert(h.pid, Role::Blocker);
            }
        }
        // So is a process sharing a blocker's descriptor.
        for (partner, first) in &self.partners {
            if self.incident_of(*first).is_some() {
                self.roles.insert(*partner, Role::Blocker);
            }
        }
        // Last, so it wins: a waiter is a waiter everywhere, whatever it also holds; so is a
        // holder waiting for its own nested cargo (unless it is the deadlock's one to stop).
        for w in &self.waits {
            self.roles.insert(w.pid, Role::Blocked);
        }
        for (parent, _) in &self.child_waits {
            if self.incident_of(*parent).is_none() {
                self.roles.insert(*parent, Role::Blocked);
            }
        }
    }
}

/// The member of a deadlock to stop: the outermost one (no ancestor of it is in the cycle: a
/// cargo whose nested cargo waits for it goes with its whole tree), and among those the most
/// recently started, whose loss costs least (the largest pid on a tie).
fn victim(pids: &[u32], facts: &HashMap<u32, ProcessFacts>) -> u32 {
    let outermost: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| {
            facts
                .get(p)
                .is_none_or(|f| !f.ancestors.iter().any(|a| pids.contains(&a.pid)))
        })
        .collect();
    let pool = if outermost.is_empty() {
        pids
    } else {
        &outermost
    };
    let started = |p: &u32| facts.get(p).map_or(f64::NEG_INFINITY, |f| f.started_at);
    pool.iter()
        .copied()
        .max_by(|a, b| started(a).total_cmp(&started(b)).then(a.cmp(b)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::LockKind;
    use crate::core::model::{Ancestor, Participant, ProcState};
    use std::path::PathBuf;

    const CACHE: FileKey = FileKey { dev: 1, ino: 10 };
    const MUTATE: FileKey = FileKey { dev: 1, ino: 11 };
    const BUILD: FileKey = FileKey { dev: 1, ino: 20 };
    const OTHER: FileKey = FileKey { dev: 1, ino: 30 };

    fn facts(pid: u32, ancestors: &[u32], started_at: f64) -> ProcessFacts {
        ProcessFacts {
            pid,
            ppid: ancestors.first().copied().unwrap_or(1),
            pgid: pid,
            uid: 1000,
            user: None,
            name: "cargo".into(),
            cmd: vec!["cargo".into(), "build".into()],
            cwd: None,
            start_token: pid.into(),
            started_at,
            state: ProcState::Sleeping,
            tree_cpu_secs: 0.0,
            has_tty: true,
            ancestors: ancestors
                .iter()
                .map(|p| Ancestor {
                    pid: *p,
                    name: "x".into(),
                })
                .collect(),
            sigterm: Default::default(),
        }
    }

    fn p(pid: u32, mode: LockMode) -> Participant {
        Participant {
            pid,
            mode,
            inherited: false,
        }
    }

    fn lock(key: FileKey, holders: Vec<Participant>, waiters: Vec<Participant>) -> LockSighting {
        LockSighting {
            path: PathBuf::from(format!("/l/{}", key.ino)),
            key,
            kind: LockKind::BuildDirectory,
            deleted: false,
            holders,
            waiters,
            dead_locker: None,
            locker_gone: false,
            unseen: None,
        }
    }

    fn all(pids: &[u32]) -> HashMap<u32, ProcessFacts> {
        pids.iter()
            .map(|p| (*p, facts(*p, &[], f64::from(*p))))
            .collect()
    }

    use LockMode::{Exclusive as X, Shared as S};

    #[test]
    fn two_builds_the_waiter_holding_mutate_shared_is_blocked_not_a_blocker() {
        // The real case: build 1 holds the build dir; build 2 waits for it. Both hold the
        // package-cache mutation lock shared.
        let g = Graph::build(
            &[
                lock(BUILD, vec![p(1, X)], vec![p(2, X)]),
                lock(MUTATE, vec![p(1, S), p(2, S)], vec![]),
            ],
            &all(&[1, 2]),
        );
        assert_eq!(g.role(1), Some(Role::Blocker));
        assert_eq!(g.role(2), Some(Role::Blocked));
        assert_eq!(g.incidents.len(), 1, "{:?}", g.incidents);
        let i = &g.incidents[0];
        assert_eq!(i.blocker, Some(1));
        assert_eq!(i.blocked, vec![2]);
        assert_eq!(i.chain, vec![2, 1]);
        assert_eq!(
            i.locks,
            vec![BUILD],
            "mutate is background, not the incident's"
        );
        assert_eq!(i.deadlock, None);
    }

    #[test]
    fn two_processes_sharing_one_exclusive_descriptor_are_one_blocker() {
        // A dead locker's two children both inherited its descriptor; 9 waits.
        let sharing = |waiters| {
            let mut l = lock(CACHE, vec![p(5, X), p(4, X)], waiters);
            l.locker_gone = true;
            l
        };
        let g = Graph::build(&[sharing(vec![p(9, X)])], &all(&[4, 5, 9]));
        assert_eq!(g.incidents.len(), 1, "{:?}", g.incidents);
        let i = &g.incidents[0];
        assert_eq!((i.blocker, i.blocked.clone()), (Some(4), vec![9]));
        assert_eq!(g.waits_for(9), vec![4]);
        assert_eq!(g.partner_of(5), Some(4));
        assert_eq!(g.incident_of(5), Some(i), "either pid finds the incident");
        assert_eq!(
            (g.role(4), g.role(5)),
            (Some(Role::Blocker), Some(Role::Blocker))
        );
        assert_eq!(g.role(9), Some(Role::Blocked));

        let quiet = Graph::build(&[sharing(vec![])], &all(&[4, 5]));
        let blockers: Vec<Option<u32>> = quiet.incidents.iter().map(|i| i.blocker).collect();
        assert_eq!(blockers, vec![Some(4)], "one holding incident, not two");
    }

    #[test]
    fn shared_lock_nobody_waits_for_is_background() {
        let g = Graph::build(
            &[lock(MUTATE, vec![p(1, S), p(2, S)], vec![])],
            &all(&[1, 2]),
        );
        assert_eq!(g.role(1), Some(Role::Background));
        assert_eq!(g.role(2), Some(Role::Background));
        assert!(g.incidents.is_empty());
    }

    #[test]
    fn exclusive_hold_without_waiters_is_a_holding_incident() {
        let g = Graph::build(&[lock(CACHE, vec![p(1, X)], vec![])], &all(&[1]));
        assert_eq!(g.role(1), Some(Role::Blocker));
        assert_eq!(g.incidents.len(), 1);
        assert!(g.incidents[0].blocked.is_empty());
        assert_eq!(g.incidents[0].locks, vec![CACHE]);
    }

    #[test]
    fn chains_root_at_the_last_holder() {
        // 3 waits for X held by 2; 2 waits for Y held by 1.
        let g = Graph::build(
            &[
                lock(BUILD, vec![p(2, X)], vec![p(3, X)]),
                lock(CACHE, vec![p(1, X)], vec![p(2, X)]),
            ],
            &all(&[1, 2, 3]),
        );
        assert_eq!(
            g.role(2),
            Some(Role::Blocked),
            "a waiter even though it holds X"
        );
        let roots: Vec<Option<u32>> = g.incidents.iter().map(|i| i.blocker).collect();
        assert_eq!(roots, vec![Some(1)], "2 is not a root: it waits");
        let i = &g.incidents[0];
        assert_eq!(i.blocked, vec![2, 3]);
        assert_eq!(i.chain, vec![3, 2, 1]);
        assert_eq!(i.locks, vec![CACHE]);
        assert_eq!(g.waits_for(3), vec![2]);
    }

    #[test]
    fn a_shared_waiter_is_not_blocked_by_a_shared_co_holder() {
        // `cargo clean gc` (3) wants mutate exclusively; 1 and 2 hold it shared.
        let g = Graph::build(
            &[lock(MUTATE, vec![p(1, S), p(2, S)], vec![p(3, X)])],
            &all(&[1, 2, 3]),
        );
        let roots: Vec<Option<u32>> = g.incidents.iter().map(|i| i.blocker).collect();
        assert_eq!(roots, vec![Some(1), Some(2)]);
        assert!(g.incidents.iter().all(|i| i.blocked == vec![3]));
        // A shared request only conflicts with an exclusive holder.
        let g = Graph::build(
            &[lock(MUTATE, vec![p(1, S), p(2, X)], vec![p(3, S)])],
            &all(&[1, 2, 3]),
        );
        assert_eq!(g.waits_for(3), vec![2]);
    }

    #[test]
    fn nested_cargo_waiting_for_its_ancestors_lock_is_a_deadlock() {
        // 1 (cargo build) holds the build dir; its build script 5 runs cargo 6, which waits.
        let mut f = all(&[1]);
        f.insert(5, facts(5, &[1], 5.0));
        f.insert(6, facts(6, &[5, 1], 6.0));
        let g = Graph::build(
            &[
                lock(BUILD, vec![p(1, X)], vec![p(6, X)]),
                lock(MUTATE, vec![p(1, S), p(6, S)], vec![]),
            ],
            &f,
        );
        let i = g
            .incident_of(1)
            .expect("incident rooted at the outer cargo");
        assert_eq!(i.blocked, vec![6]);
        assert_eq!(
            i.deadlock,
            Some(Deadlock::SelfWait {
                waiter: 6,
                holder: 1
            })
        );
        assert_eq!(g.role(6), Some(Role::Blocked));
    }

    #[test]
    fn a_wait_cycle_is_a_deadlock_rooted_at_its_youngest_member() {
        // 1 holds X, waits Y; 2 holds Y, waits X; 3 waits for X too.
        let mut f = all(&[1, 2, 3]);
        f.get_mut(&2).unwrap().started_at = 100.0;
        let g = Graph::build(
            &[
                lock(BUILD, vec![p(1, X)], vec![p(2, X), p(3, X)]),
                lock(OTHER, vec![p(2, X)], vec![p(1, X)]),
            ],
            &f,
        );
        assert_eq!(g.incidents.len(), 1, "{:?}", g.incidents);
        let i = &g.incidents[0];
        assert_eq!(i.blocker, Some(2), "2 started last");
        assert_eq!(i.deadlock, Some(Deadlock::Cycle { pids: vec![1, 2] }));
        assert!(i.blocked.contains(&1) && i.blocked.contains(&3));
        assert_eq!(i.locks, vec![OTHER]);
    }

    #[test]
    fn a_process_read_as_holding_and_waiting_for_one_lock_holds_it() {
        // The kernel's table is read a page at a time: a waiter granted between two reads can
        // show up on both sides. It is not a deadlock.
        let g = Graph::build(
            &[lock(BUILD, vec![p(1, X)], vec![p(1, X), p(2, X)])],
            &all(&[1, 2]),
        );
        assert_eq!(g.incidents.len(), 1);
        assert_eq!(g.incidents[0].deadlock, None);
        assert_eq!(g.incidents[0].blocked, vec![2]);
        assert_eq!(g.role(1), Some(Role::Blocker));
    }

    #[test]
    fn a_lock_held_by_an_unseen_process_is_an_incident_without_a_blocker() {
        let mut s = lock(CACHE, vec![], vec![]);
        s.unseen = Some(X);
        let g = Graph::build(&[s.clone()], &all(&[]));
        assert_eq!(g.incidents.len(), 1);
        assert_eq!(g.incidents[0].blocker, None);
        assert_eq!(g.incidents[0].locks, vec![CACHE]);
        // Shared and nobody waits: background, no incident.
        s.unseen = Some(S);
        assert!(Graph::build(&[s], &all(&[])).incidents.is_empty());
    }

    #[test]
    fn waiters_of_an_unseen_holder_form_an_incident_without_a_blocker() {
        // The holder vanished mid-pass or belongs to a user whose processes are hidden.
        let mut f = all(&[2, 3]);
        f.remove(&1);
        let g = Graph::build(
            &[
                lock(CACHE, vec![p(1, X)], vec![p(2, X)]),
                lock(BUILD, vec![p(2, X)], vec![p(3, X)]),
            ],
            &f,
        );
        assert_eq!(g.incidents.len(), 1, "{:?}", g.incidents);
        let i = &g.incidents[0];
        assert_eq!(i.blocker, None);
        assert_eq!(i.blocked, vec![2, 3]);
        assert_eq!(i.chain, vec![3, 2]);
        assert_eq!(i.locks, vec![CACHE]);
    }

    #[test]
    fn a_child_sharing_its_parents_lock_is_part_of_the_parent_not_a_second_incident() {
        // `flock -x FILE sleep`: flock (1) took the lock, sleep (2) inherited the descriptor.
        let mut f = all(&[1, 3]);
        f.insert(2, facts(2, &[1], 2.0));
        let g = Graph::build(&[lock(CACHE, vec![p(1, X), p(2, X)], vec![p(3, X)])], &f);
        assert_eq!(g.incidents.len(), 1, "{:?}", g.incidents);
        assert_eq!(g.incidents[0].blocker, Some(1));
        assert_eq!(g.waits_for(3), vec![1]);
        assert_eq!(g.role(2), Some(Role::Blocker));
        // Without a waiter: still one holding incident.
        let g = Graph::build(&[lock(CACHE, vec![p(1, X), p(2, X)], vec![])], &f);
        assert_eq!(g.incidents.len(), 1, "{:?}", g.incidents);
    }

    #[test]
    fn a_waiter_stopped_on_a_free_lock_is_blocked_and_roots_nothing() {
        // Build 1 finished; build 2, stopped (Ctrl-Z) in its request, still holds mutate
        // shared: a waiter, never a holder, and nobody's incident (review T, T1).
        let g = Graph::build(
            &[
                lock(BUILD, vec![], vec![p(2, X)]),
                lock(MUTATE, vec![p(2, S)], vec![]),
            ],
            &all(&[2]),
        );
        assert_eq!(g.role(2), Some(Role::Blocked));
        assert!(g.is_blocked(2));
        assert!(g.incidents.is_empty(), "{:?}", g.incidents);
    }

    #[test]
    fn vanished_waiters_are_left_out() {
        let g = Graph::build(&[lock(CACHE, vec![p(1, X)], vec![p(2, X)])], &all(&[1]));
        assert!(g.incidents[0].blocked.is_empty());
        assert_eq!(g.role(2), None);
    }
}
