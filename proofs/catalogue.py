r"""The catalogue: every definition and theorem of the theory, under its number.

Each entry keeps the statement as the source theory writes it (its formula in
LaTeX, with a paraphrase in our words), and the *readings* we decide: the
precise claims, true or false, that the suite settles. A reading is decided by
one or more obligations (``proofs.obligations``); an entry none of whose
readings has an obligation yet is reported as *not yet covered*, never as
passing.

Numbering follows the source: D1.1-D1.6 and T1.1-T1.2 (foundations), D2.1-D2.6
and T2.1-T2.3 (patterns), D3.1-D3.6 and T3.1-T3.3 (communication), D4.1-D4.6 and
T4.1-T4.3 (quality).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Correction:
    """The statement that does hold, and the obligations that show it."""

    #: ``"holds"``, ``"false"`` or ``"ambiguous"``: the statement as written.
    as_written: str
    #: In words: what holds, or how the statement must be read to hold.
    statement: str
    #: The same in LaTeX, where a formula helps ('' when none does).
    formal: str
    #: Obligations expected to be PROVED or CHECKED that back the statement.
    backed_by: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    section: str
    #: The formula as the source writes it.
    statement: str
    #: What the statement says, in our words.
    paraphrase: str
    #: The precise readings the suite decides, in words.
    readings: tuple[str, ...] = ()
    #: The corrected statement (or the note that it holds as written).
    correction: Correction | None = None

    @property
    def kind(self) -> str:
        return "definition" if self.id.startswith("D") else "theorem"


SECTIONS = {
    "1": "Foundations: services, systems, state and relations",
    "2": "Patterns: discovery, load balancing, fault tolerance",
    "3": "Communication: synchronous calls, messages, events",
    "4": "Quality: scalability, availability, consistency",
}

ENTRIES: tuple[Entry, ...] = (
    Entry(
        "D1.1",
        "Microservice",
        "1",
        r"S = (I, O, P, R, E)",
        "A microservice is an autonomous unit given by five parts: its input "
        "interfaces I, its output interfaces O, its processing logic P, its "
        "resource needs R and its execution environment E.",
        (
            "I and O are finite sets of named, typed interfaces; O lists the "
            "interfaces the service calls out through. R maps resource kinds to "
            "non-negative amounts. Construction refuses anything else and says "
            "which part was wrong.",
        ),
        correction=Correction(
            "holds",
            "A service is its five parts, each of the right kind: named, typed "
            "interfaces in I and O, a handler name for P, non-negative amounts in "
            "R. A five-tuple with a malformed part is not a service, and building "
            "one is refused with the part named.",
            "",
            ("D1.1/construction-validates",),
        ),
    ),
    Entry(
        "D1.2",
        "Microservice system",
        "1",
        r"G = (V, E),\quad V = \{S_1, \dots, S_n\},\quad "
        r"E = \{(S_i, S_j) \mid S_i \text{ calls } S_j\}",
        "A system is a directed graph whose vertices are services and whose "
        "edges are calls from one service to another.",
        (
            "Every edge joins two services of V. Direct dependencies, transitive "
            "dependencies, reachability and cycles computed by the specification "
            "agree with a brute-force enumeration of paths.",
        ),
        correction=Correction(
            "holds",
            "A system is a directed graph on its services; an edge is admitted "
            "only between two services of V, and dependencies, reachability and "
            "cycles are those of that graph.",
            "",
            ("D1.2/graph-queries-match-brute-force",),
        ),
    ),
    Entry(
        "T1.1",
        "Autonomy",
        "1",
        r"\forall S_i, S_j \in V,\ i \neq j:\ "
        r"\mathrm{State}(S_i) \cap \mathrm{State}(S_j) = \emptyset",
        "No two distinct services share any part of their state, so a change "
        "inside one cannot directly change another.",
        (
            "In the specification a service's state is a value of its own and a "
            "step of one service leaves every other component untouched.",
            "In the implementation no mutable object is reachable from two "
            "instances or two registries, default metadata included.",
        ),
        correction=Correction(
            "ambiguous",
            "The intersection needs a notion of what a state contains. Read as: "
            "no mutable object belongs to the state of two services, and a step "
            "of one service leaves every other service's state as it was, it "
            "holds in the specification and in the implementation's instances, "
            "registries and consumers.",
            r"\forall j \neq i:\ \mathrm{State}(S_j) \text{ after a step of } S_i "
            r"= \mathrm{State}(S_j) \text{ before it}",
            (
                "T1.1/spec-steps-are-local",
                "T1.1/impl-instances-share-nothing",
                "T1.1/impl-registries-share-nothing",
                "T1.1/impl-consumers-share-nothing",
            ),
        ),
    ),
    Entry(
        "D1.3",
        "Service state",
        "1",
        r"\mathrm{State}(S_i, t) = (q_i, m_i, c_i)",
        "The state of a service at a time is its queue state, its memory state "
        "and its computation state.",
        ("Each of the three components can be read back from the state it built.",),
        correction=Correction(
            "holds",
            "A service state is the triple of queue, memory and computation; each "
            "part reads back as built, the state cannot change in place, and each "
            "local event touches only the parts it concerns.",
            "",
            (
                "D1.3/components-read-back",
                "D1.3/impl-consumer-state",
            ),
        ),
    ),
    Entry(
        "D1.4",
        "System state",
        "1",
        r"\mathrm{SystemState}(t) = \prod_{i=1}^{n} \mathrm{State}(S_i, t)",
        "The state of the whole system is the product of its services' states.",
        ("Projecting the product on a service and rebuilding it round-trips.",),
        correction=Correction(
            "holds",
            "The system state has one component per service, projecting it on a "
            "service gives that service's state, and rebuilding from the "
            "projections gives it back.",
            r"\pi_i(\mathrm{SystemState}(t)) = \mathrm{State}(S_i, t)",
            (
                "D1.4/product-round-trips",
                "D1.4/impl-system-state-product",
            ),
        ),
    ),
    Entry(
        "T1.2",
        "Markov property of state transitions",
        "1",
        r"P(\mathrm{SystemState}(t+1) \mid \mathrm{SystemState}(t), "
        r"\mathrm{SystemState}(t-1), \dots) = "
        r"P(\mathrm{SystemState}(t+1) \mid \mathrm{SystemState}(t))",
        "The next system state depends on the present state alone, not on how "
        "the system got there.",
        (
            "With a circuit breaker's three named states as the state, the next "
            "state is not a function of the present state and the event: two "
            "histories reach the same named state and then part ways.",
            "With the breaker's full state (phase, failure count, opening time, "
            "probes in flight) the transition is a function of state and event, "
            "and the implementation's future depends only on that state.",
        ),
        correction=Correction(
            "ambiguous",
            "Whether the system is Markov depends on what counts as its state. "
            "With a circuit breaker's three phase names alone it is not; with "
            "everything the breaker remembers (phase, episode, failure count or "
            "window, opening time, calls in flight, probe successes) the next "
            "state is a function of the present state and the event, and the "
            "implementation's future depends on that state only.",
            r"s_{t+1} = \delta(s_t, e_t) \text{ for the full state } s_t",
            (
                "T1.2/full-state-is-markov",
                "T1.2/impl-agrees-with-spec",
            ),
        ),
    ),
    Entry(
        "D1.5",
        "Service dependency",
        "1",
        r"S_i \rightarrow S_j \iff \exists o \in O_i,\ i \in I_j:\ "
        r"\mathrm{Compatible}(o, i)",
        "A service depends on another exactly when one of its output interfaces "
        "fits one of the other's input interfaces.",
        (
            "Compatible(o, i) holds when the two interfaces have the same name "
            "and the same type; the dependency graph of a set of services has an "
            "edge exactly where some such pair exists.",
        ),
        correction=Correction(
            "ambiguous",
            "Compatible is not defined, and the letter i names both an index and "
            "an interface. Taking two interfaces as compatible when they carry "
            "the same name and the same type, S_i depends on S_j exactly when "
            "some output of S_i matches some input of S_j, and the dependency "
            "graph has exactly those edges.",
            r"S_i \rightarrow S_j \iff \exists o \in O_i,\ x \in I_j:\ "
            r"\mathrm{name}(o) = \mathrm{name}(x) \land \mathrm{type}(o) = "
            r"\mathrm{type}(x)",
            ("D1.5/dependency-is-compatibility",),
        ),
    ),
    Entry(
        "D1.6",
        "Service composition",
        "1",
        r"S_C = \left(\bigcup_{i=1}^{k} I_i,\ \bigcup_{i=1}^{k} O_i,\ "
        r"\bigoplus_{i=1}^{k} P_i,\ \sum_{i=1}^{k} R_i,\ E_C\right)",
        "A composite service offers the union of its members' inputs and "
        "outputs, combines their logic, and needs the sum of their resources.",
        (
            "As written, the composite still lists as outputs the interfaces its "
            "members satisfy among themselves, so it appears to depend on "
            "services it does not need.",
            "With satisfied outputs hidden, composition is associative and "
            "commutative and resources add.",
        ),
        correction=Correction(
            "false",
            "The composite must hide what its members supply to one another: its "
            "outputs are the members' outputs that no member offers as an input. "
            "So corrected, composition is associative and commutative, its inputs "
            "are the union of the members' inputs and its resources their sum. "
            "The rule changes even a composite of one member: a service that "
            "needs an interface it offers itself loses that need when composed "
            "alone, so such a composite is not the service it wraps.",
            r"S_C = \left(\bigcup_{i=1}^{k} I_i,\ \bigcup_{i=1}^{k} O_i \setminus "
            r"\bigcup_{i=1}^{k} I_i,\ \bigoplus_{i=1}^{k} P_i,\ \sum_{i=1}^{k} "
            r"R_i,\ E_C\right)",
            (
                "D1.6/composition-laws",
                "D1.6/composition-of-services",
            ),
        ),
    ),
    Entry(
        "D2.1",
        "Service registration",
        "2",
        r"\mathrm{Register}: S \times \mathrm{Endpoint} \rightarrow \mathrm{Registry}",
        "Registering maps a service and one of its endpoints to a registry.",
        (
            "Registration is a step on registry state: it adds an endpoint under "
            "the service's name, once.",
            "Registering a (service, id) that is live answers False and changes "
            "nothing; otherwise the instance is added, the revision grows by "
            "one, and an optional lease keeps it until its ttl has passed.",
        ),
        correction=Correction(
            "ambiguous",
            "Registration changes a registry that the signature leaves out. Read "
            "as a step on registry state: registering an instance whose (service, "
            "id) is live answers False and changes nothing; otherwise it adds "
            "exactly that instance, raises the revision by one and answers True, "
            "and a lease keeps the instance until its ttl has passed.",
            r"\mathrm{Register}: \mathrm{Registry} \times \mathrm{Instance} "
            r"\rightarrow \mathrm{Registry} \times \{\mathrm{True}, "
            r"\mathrm{False}\}",
            ("D2.1/register-takes-effect-once",),
        ),
    ),
    Entry(
        "D2.2",
        "Service discovery",
        "2",
        r"\mathrm{Discover}: \mathrm{ServiceName} \rightarrow "
        r"\mathcal{P}(\mathrm{Endpoint})",
        "Discovery maps a service name to a set of endpoints.",
        (
            "Discovery is a query on registry state returning the endpoints "
            "registered under a name.",
            "It answers the live instances of the name (only the healthy ones "
            "when asked) and changes nothing but the removal of expired leases.",
        ),
        correction=Correction(
            "ambiguous",
            "Discovery reads a registry that the signature leaves out. Read as a "
            "query on registry state at a time: it answers the live instances "
            "registered under the name (the healthy ones when asked), changes "
            "nothing but dropping expired leases, and answers the same when asked "
            "twice at one time.",
            r"\mathrm{Discover}: \mathrm{Registry} \times \mathrm{ServiceName} "
            r"\times \mathrm{Time} \rightarrow \mathcal{P}(\mathrm{Instance})",
            ("D2.2/discover-is-a-query",),
        ),
    ),
    Entry(
        "T2.1",
        "Discovery consistency",
        "2",
        r"\mathrm{Discover}(\mathrm{Name}(S)) = "
        r"\{\mathrm{Register}(S, e) \mid e \in \mathrm{Endpoints}(S)\}",
        "Discovering a service returns exactly what was registered for it.",
        (
            "As written the equation is ill-typed: the right side is a set of "
            "registries, the left a set of endpoints.",
            "Corrected: discover(name) is the set of registered, unexpired "
            "endpoints of name; the implementation agrees with the "
            "specification and is linearizable; a cached answer is at most its "
            "TTL old.",
            "A cache with one time stamp shared by all services, as in the "
            "theory's sketch, serves answers older than its TTL.",
            "Health marks, which the healthy-only discovery filters on, follow "
            "probes of the instance itself with flap damping.",
        ),
        correction=Correction(
            "false",
            "As written the two sides have different types (a set of endpoints "
            "against a set of registries). What holds: discovering a name at time "
            "t gives the instances of that name whose registration took effect, "
            "that were not removed since, and whose lease is still running; the "
            "in-memory registry agrees with this and stays linearizable under "
            "concurrent clients; an answer through a per-service cache is never "
            "older than its ttl.",
            r"\mathrm{Discover}(n, t) = \{x \mid \mathrm{name}(x) = n,\ x \text{ "
            r"registered and not removed},\ t < \mathrm{renewed}(x) + "
            r"\mathrm{ttl}(x)\}",
            (
                "T2.1/discover-is-registered-unexpired",
                "T2.1/impl-registry-agrees-with-spec",
                "T2.1/registry-linearizable-under-interleavings",
                "T2.1/cached-discovery-within-ttl",
            ),
        ),
    ),
    Entry(
        "D2.3",
        "Load-balancing strategy",
        "2",
        r"\mathrm{LoadBalance}: \mathcal{P}(\mathrm{Instance}) \times "
        r"\mathrm{Request} \rightarrow \mathrm{Instance}",
        "A balancing strategy picks one instance from a set for a request.",
        (
            "A strategy is a step function of (policy state, healthy instances, "
            "request) that never returns an instance outside the set.",
        ),
        correction=Correction(
            "ambiguous",
            "A function from sets of instances cannot pick from the empty set, "
            "and most policies carry state between requests. Read as a step of "
            "(policy state, instances, request): from a non-empty set every "
            "policy picks a member, and from the empty set it picks nothing.",
            r"I \neq \emptyset \Rightarrow \mathrm{LoadBalance}(I, r) \in I",
            ("D2.3/never-outside-the-set",),
        ),
    ),
    Entry(
        "D2.4",
        "Load-balancing algorithms",
        "2",
        r"\mathrm{RR}(I, r) = I_{(\mathrm{index}(r) \bmod |I|)},\quad "
        r"\mathrm{WRR}(I, r) = I_{\arg\max_i \{w_i \cdot \mathrm{current}_i\}},"
        r"\quad \mathrm{LC}(I, r) = I_{\arg\min_i \{\mathrm{connections}_i\}}",
        "Round robin takes instances in turn, weighted round robin favours the "
        "largest weighted current value, least connections the instance with "
        "the fewest open connections.",
        (
            "The implementation of each policy (round robin, smooth weighted round "
            "robin, least connections, power of two choices, adaptive) picks what "
            "the specification picks from the same state.",
        ),
        correction=Correction(
            "ambiguous",
            "The weighted rule leaves current undefined, and the product of a "
            "weight with it is not the smooth rule the suite decides. Smooth "
            "weighted round robin adds each weight to its current value, picks "
            "the largest current value and takes the total weight back from the "
            "winner; it reproduces nginx's published order. Round robin, least "
            "connections, power of two and adaptive choice match their "
            "specifications step by step.",
            r"c_i \leftarrow c_i + w_i,\quad k = \arg\max_i c_i,\quad c_k "
            r"\leftarrow c_k - \sum_j w_j",
            (
                "D2.4/smooth-weighted-matches-spec",
                "D2.4/wrr-nginx-sequence",
                "D2.4/round-robin-matches-spec",
                "D2.4/least-connections-matches-spec",
            ),
        ),
    ),
    Entry(
        "T2.2",
        "Balancing bound",
        "2",
        r"\forall i, j \in I:\ |\mathrm{load}_i - \mathrm{load}_j| \leq \epsilon",
        "Under ideal conditions a balancer keeps any two instances' loads "
        "within some epsilon of each other.",
        (
            "Round robin over a fixed set: epsilon = 1 pick.",
            "Smooth weighted round robin: each peer stays within a pick of its "
            "weighted share from above; 'within one pick both ways' is false.",
            "Smooth weighted round robin repeats with period W, the total "
            "weight, each peer taking exactly its weight in picks per period.",
            "Least connections while no call completes: epsilon = 1 call per "
            "unit of weight.",
            "Random choice admits no constant epsilon.",
            "The source's weighted round robin starves light instances.",
        ),
        correction=Correction(
            "false",
            "No single epsilon fits every balancer: random choice has none. What "
            "holds, per policy over a fixed set: round robin keeps any two counts "
            "within one pick; smooth weighted round robin never lets a peer get a "
            "full pick ahead of its weighted share and gives every peer exactly "
            "its weight in each period of W picks; least connections, while no "
            "call completes, keeps equal-weight peers within one call (proved "
            "for up to four peers).",
            r"\mathrm{count}_i(k) - k\,\frac{w_i}{W} < 1",
            (
                "T2.2/rr-static-within-one",
                "T2.2/swrr-never-ahead-by-a-pick",
                "T2.2/swrr-period-is-total-weight",
                "T2.2/lc-no-completions-within-one",
            ),
        ),
    ),
    Entry(
        "D2.5",
        "Circuit-breaker states",
        "2",
        r"\mathrm{State} = \{\mathrm{Closed}, \mathrm{Open}, \mathrm{HalfOpen}\}",
        "A breaker is closed (calls pass), open (calls fail fast) or half-open "
        "(a few trial calls pass).",
        ("Only the transitions of the breaker's table are legal.",),
        correction=Correction(
            "holds",
            "As the set of a breaker's phases it holds: closed, open and "
            "half-open, with only the transitions of the breaker's table legal "
            "(the phase alone is not the whole state; see T1.2).",
            "",
            (
                "D2.5/rules-within-table",
                "D2.5/impl-legal-transitions-only",
            ),
        ),
    ),
    Entry(
        "D2.6",
        "Circuit-breaker transition function",
        "2",
        r"\mathrm{CircuitBreaker}: \mathrm{State} \times \mathrm{Event} "
        r"\rightarrow \mathrm{State}",
        "The breaker's behaviour is a function from state and event to state.",
        (
            "Every other (from, to) pair is refused with an error naming the "
            "breaker, both states and the event.",
        ),
        correction=Correction(
            "ambiguous",
            "It is a function only when State is the full breaker state and the "
            "events are well formed. Then, on every reachable state, exactly one "
            "rule applies; illegal transitions are refused; outcomes of calls "
            "from an earlier episode, cancellations and ignored errors change "
            "nothing but the permits.",
            r"\mathrm{CircuitBreaker}: \mathrm{FullState} \times \mathrm{Event} "
            r"\rightarrow \mathrm{FullState}",
            (
                "D2.6/transition-is-a-function",
                "D2.6/illegal-transitions-refused",
                "D2.6/stale-outcomes-change-nothing",
                "D2.6/neutral-outcomes-release-only",
            ),
        ),
    ),
    Entry(
        "T2.3",
        "Breaker effectiveness",
        "2",
        r"P(\mathrm{SystemFailure} \mid \mathrm{CircuitBreaker}) < "
        r"P(\mathrm{SystemFailure} \mid \mathrm{NoCircuitBreaker})",
        "A circuit breaker makes system failure less likely than it is without one.",
        (
            "In a stated cascading-failure model the breaker lowers the failure "
            "probability (simulation with a confidence interval).",
            "Calls reaching a failing dependency within a window T are at most "
            "threshold + ceil(T / recovery) x probes; without a breaker they are "
            "unbounded.",
            "Half-open admits at most its probe budget of concurrent calls, under "
            "every explored interleaving; every admitted call ends exactly once; "
            "late outcomes change nothing.",
            "The patterns beside the breaker keep their own bounds: retry "
            "attempts, delays and deadline; bulkhead permits (in use + available "
            "= limit, under every explored interleaving); exact timeouts; a "
            "fallback that never answers a cancellation; a composed client that "
            "terminates and applies each layer once.",
        ),
        correction=Correction(
            "ambiguous",
            "A probability needs a model. In the stated cascading-failure model "
            "the caller fails less often with a breaker (the two 99% intervals do "
            "not overlap). The part that holds in every model: against a "
            "dependency that fails every call, one caller at a time passes at "
            "most threshold plus one probe budget per recovery period in a window "
            "of length T, and a half-open breaker never has more probes in flight "
            "than its budget.",
            r"N(T) \le \mathrm{threshold} + \left\lfloor "
            r"\frac{T}{\mathrm{recovery}} \right\rfloor \cdot \mathrm{probes}",
            (
                "T2.3/breaker-lowers-failure-probability",
                "T2.3/failing-dependency-calls-bounded",
                "T2.3/impl-half-open-probe-limit",
            ),
        ),
    ),
    Entry(
        "D3.1",
        "Synchronous call",
        "3",
        r"\mathrm{SyncCall}: S_i \times S_j \times \mathrm{Request} "
        r"\rightarrow \mathrm{Response}",
        "A synchronous call blocks the caller until the response arrives.",
        (
            "A call costs its caller the callee's answer time: in the implementation "
            "on the virtual-time loop, the caller resumes exactly one hop latency "
            "after it called.",
        ),
        correction=Correction(
            "holds",
            "A synchronous call blocks its caller until the callee's own answer "
            "comes back: on the virtual clock the caller resumes exactly one hop "
            "latency after calling.",
            "",
            ("D3.1/impl-sync-call-blocks",),
        ),
    ),
    Entry(
        "D3.2",
        "Call latency",
        "3",
        r"\mathrm{Latency}(S_i, S_j) = \mathrm{NetworkDelay} + "
        r"\mathrm{ProcessingTime}(S_j) + \mathrm{QueueTime}(S_j)",
        "The latency of a call is network delay plus processing time plus "
        "queueing time at the callee.",
        (
            "The three parts add; where the queueing time needs a number, the callee "
            "is an M/M/1 queue, whose means follow from its birth-death chain and "
            "match the published figures.",
        ),
        correction=Correction(
            "holds",
            "The three parts add. The queueing time follows Lindley's recursion "
            "for a single FIFO server; when the callee is an M/M/1 queue with "
            "arrival rate lambda below service rate mu, the mean response and "
            "waiting times are the ones below.",
            r"W = \frac{1}{\mu - \lambda},\quad W_q = \frac{\lambda}{\mu (\mu - "
            r"\lambda)}",
            (
                "D3.2/latency-is-sum-of-parts",
                "D3.2/impl-queue-wait-is-lindley",
                "D3.2/mm1-from-birth-death-chain",
            ),
        ),
    ),
    Entry(
        "T3.1",
        "Latency accumulation",
        "3",
        r"\mathrm{TotalLatency} = \sum_{i=1}^{n-1} \mathrm{Latency}(S_i, S_{i+1})",
        "The latency of a call chain is the sum of its hops' latencies.",
        (
            "For a sequential chain the total is the sum of the hops, in the "
            "specification and measured on the implementation.",
            "For a parallel fan-out the total is the maximum, not the sum.",
            "Along a nested chain, per-hop timeouts must shrink: each hop gets "
            "what is left of its caller's budget, or calls are left running "
            "after their caller gave up. The implementation propagates the "
            "deadline so, measured through its client and transport.",
        ),
        correction=Correction(
            "false",
            "The sum holds for a sequential chain only. For any plan of chains "
            "and fan-outs the total latency is the longest path through the plan: "
            "a fan-out costs its slowest branch. Along a nested chain each hop's "
            "timeout must be at most what is left of its caller's.",
            r"\mathrm{TotalLatency} = \max_{p \in \mathrm{Paths}} \sum_{h \in p} "
            r"\mathrm{Latency}(h)",
            (
                "T3.1/chain-is-sum",
                "T3.1/latency-is-critical-path",
                "T3.1/impl-chain-latency-is-sum",
                "T3.1/impl-fan-out-is-slowest-branch",
                "T3.1/timeouts-shrink-along-chain",
                "T3.1/impl-deadline-propagates",
            ),
        ),
    ),
    Entry(
        "D3.3",
        "Asynchronous message",
        "3",
        r"\mathrm{AsyncMessage}: S_i \times S_j \times \mathrm{Message} "
        r"\rightarrow \mathrm{MessageId}",
        "Sending an asynchronous message returns an id at once, without "
        "waiting for the receiver.",
        (
            "Send is one step that appends one message and returns a fresh id, in "
            "the specification and in the implementation's queue alike.",
        ),
        correction=Correction(
            "holds",
            "Sending appends exactly one message and returns at once an id never "
            "returned before, without consulting the receiver.",
            "",
            ("D3.3/send-returns-fresh-id",),
        ),
    ),
    Entry(
        "D3.4",
        "Message queue",
        "3",
        r"\mathrm{Queue} = \langle m_1, m_2, \dots, m_n \rangle",
        "A message queue is a first-in, first-out sequence of messages.",
        (
            "Dequeue returns the oldest message; the implementation's queue stays "
            "FIFO through acknowledgements, timeouts and redeliveries.",
        ),
        correction=Correction(
            "holds",
            "The queue is first in, first out; with acknowledgements, a delivery "
            "not acked in time, or nacked, becomes ready again in its original "
            "place.",
            "",
            (
                "D3.4/queue-is-fifo",
                "D3.4/impl-queue-is-fifo",
            ),
        ),
    ),
    Entry(
        "T3.2",
        "Delivery guarantee",
        "3",
        r"P(\mathrm{MessageDelivered} \mid \mathrm{MessageSent}) = 1",
        "In a reliable messaging system every message sent is delivered.",
        (
            "With r retries over independent loss p the delivery probability is "
            "1 - p^(r+1), below 1 for p > 0; it tends to 1 as r grows.",
            "The implementation's producer, over a lossy link, delivers with a "
            "frequency matching the formula within a confidence interval.",
            "At-least-once delivery produces duplicates unless the consumer "
            "deduplicates.",
        ),
        correction=Correction(
            "false",
            "With one try and r retries over a link losing each attempt "
            "independently with probability p, a message arrives with probability "
            "one minus p to the power r + 1: below 1 for every finite r when p > "
            "0, and tending to 1 as r grows when p < 1 as well. Processing each "
            "message exactly once needs a consumer that deduplicates by message "
            "id.",
            r"P(\mathrm{MessageDelivered}) = 1 - p^{r+1} < 1 \quad (p > 0),"
            r"\qquad \lim_{r \to \infty} \left(1 - p^{r+1}\right) = 1 \quad "
            r"(0 < p < 1)",
            (
                "T3.2/delivery-formula",
                "T3.2/limit-is-one",
                "T3.2/impl-lossy-delivery-frequency",
                "T3.2/impl-dedup-processes-once",
            ),
        ),
    ),
    Entry(
        "D3.5",
        "Event",
        "3",
        r"\mathrm{Event} = (\mathrm{EventId}, \mathrm{EventType}, "
        r"\mathrm{Payload}, \mathrm{Timestamp})",
        "An event is an immutable fact: an id, a type, a payload and a timestamp.",
        ("Events cannot be changed after they are built, and readers get copies.",),
        correction=Correction(
            "holds",
            "An event reads back as built and cannot be changed: fields cannot be "
            "assigned, a mutable payload is refused, and readers get copies.",
            "",
            (
                "D3.5/events-are-immutable-facts",
                "D3.5/impl-events-immutable",
            ),
        ),
    ),
    Entry(
        "D3.6",
        "Event stream",
        "3",
        r"\mathrm{EventStream} = \langle e_1, e_2, \dots, e_n \rangle",
        "An event stream is an ordered sequence of events.",
        (
            "Each partition keeps its events in append order, and a key stays in "
            "one partition.",
        ),
        correction=Correction(
            "ambiguous",
            "A partitioned stream is one sequence per partition, not one for the "
            "whole stream: each partition keeps its records in append order, "
            "every event of a key lands in one partition, and reading from a "
            "sequence number gives the records from there on.",
            "",
            ("D3.6/partitions-keep-append-order",),
        ),
    ),
    Entry(
        "T3.3",
        "Event order",
        "3",
        r"\forall i < j:\ \mathrm{Timestamp}(e_i) \leq \mathrm{Timestamp}(e_j)",
        "Within one partition, earlier events carry timestamps no later than "
        "later ones.",
        (
            "With wall-clock timestamps this fails when the clock steps back.",
            "With the partition's own sequence numbers it holds.",
        ),
        correction=Correction(
            "false",
            "Timestamps from producers' clocks can go backwards within a "
            "partition. The order that holds is the partition's own sequence "
            "numbers: each is its predecessor plus one, so they increase without "
            "gaps in append order, and subscribers see that order.",
            r"\forall i < j \text{ in one partition}:\ \mathrm{seq}(e_i) < "
            r"\mathrm{seq}(e_j)",
            (
                "T3.3/sequence-numbers",
                "T3.3/impl-partition-order",
            ),
        ),
    ),
    Entry(
        "D4.1",
        "Horizontal scaling",
        "4",
        r"\mathrm{HorizontalScale}(S, n) = \{S_1, S_2, \dots, S_n\}",
        "Scaling out runs n instances of a service.",
        ("Scaling out to n gives n distinct replicas of one definition.",),
        correction=Correction(
            "holds",
            "For n >= 1, scaling out gives n replicas with distinct names and the "
            "service's five parts; n < 1 is refused.",
            "",
            ("D4.1/scale-out-gives-n-replicas",),
        ),
    ),
    Entry(
        "D4.2",
        "Scale factor",
        "4",
        r"\mathrm{ScaleFactor} = \frac{\mathrm{Throughput}(n\ \text{instances})}"
        r"{\mathrm{Throughput}(1\ \text{instance})}",
        "The scale factor is the throughput of n instances over the throughput of one.",
        (
            "It is a ratio of throughputs: 1 for one replica, X(n)/X(1) under the "
            "universal scalability law.",
        ),
        correction=Correction(
            "holds",
            "The ratio is defined when one instance has a positive throughput; it "
            "is 1 for one replica.",
            "",
            ("D4.2/scale-factor-is-ratio",),
        ),
    ),
    Entry(
        "T4.1",
        "Ideal scaling",
        "4",
        r"\mathrm{ScaleFactor} = n",
        "Ideally, n instances give n times the throughput.",
        (
            "Under the universal scalability law the scale factor is n for "
            "every n exactly when contention and coherence are zero; otherwise "
            "it is false.",
        ),
        correction=Correction(
            "false",
            "Under the universal scalability law with contention sigma and "
            "coherence kappa, the scale factor is n for every n exactly when both "
            "are zero; the law fitted to published measurements has them "
            "positive.",
            r"\frac{n}{1 + \sigma (n - 1) + \kappa n (n - 1)} = n \text{ for all } "
            r"n \iff \sigma = \kappa = 0",
            (
                "T4.1/ideal-iff-no-contention-no-coherence",
                "T4.1/usl-fit-published",
            ),
        ),
    ),
    Entry(
        "D4.3",
        "Service availability",
        "4",
        r"\mathrm{Availability}(S) = \frac{\mathrm{Uptime}(S)}{\mathrm{TotalTime}}",
        "A service's availability is the fraction of time it is up.",
        (
            "Availability is a number in [0, 1]; with mean time between "
            "failures and mean time to repair it is MTBF / (MTBF + MTTR), and "
            "it fixes the expected downtime per year.",
        ),
        correction=Correction(
            "holds",
            "Availability is a number in [0, 1]; over one failure-and-repair "
            "cycle it is the mean time between failures over the cycle's length.",
            r"\mathrm{Availability} = \frac{\mathrm{MTBF}}{\mathrm{MTBF} + "
            r"\mathrm{MTTR}}",
            (
                "D4.3/fraction-of-time",
                "D4.3/published-figures",
            ),
        ),
    ),
    Entry(
        "D4.4",
        "System availability in series",
        "4",
        r"\mathrm{SystemAvailability} = \prod_{i=1}^{n} \mathrm{Availability}(S_i)",
        "A chain of services that all must be up is available with the "
        "product of their availabilities.",
        (
            "With independent failures the series availability is the product, "
            "and the product never exceeds the least available member.",
        ),
        correction=Correction(
            "holds",
            "Read with independent failures, the series availability is the "
            "product, lies in [0, 1] and never exceeds the least available "
            "member.",
            r"\prod_{i=1}^{n} A_i \le \min_i A_i",
            (
                "D4.4/series-is-product",
                "D4.4/series-below-weakest",
            ),
        ),
    ),
    Entry(
        "T4.2",
        "Availability through redundancy",
        "4",
        r"\mathrm{Availability}_{\mathrm{redundant}} = "
        r"1 - (1 - \mathrm{Availability}_{\mathrm{single}})^n",
        "n redundant replicas, of which one suffices, are available with one "
        "minus the chance that all are down.",
        (
            "For independent replicas with 0 < A < 1, the redundant "
            "availability increases strictly with n and exceeds A for n >= 2.",
            "Under correlated (common-cause) failures the formula overstates "
            "availability.",
            "The implementation's resilient client, retrying across independent "
            "replicas, succeeds as often as the formula says.",
        ),
        correction=Correction(
            "false",
            "The formula needs independent replicas: with failures that share a "
            "cause it overstates availability. For independent replicas with 0 < "
            "A < 1 it holds, grows strictly with every replica added, and exceeds "
            "A from two replicas on.",
            r"A_n = 1 - (1 - A)^n,\quad A_{n+1} > A_n,\quad A_n > A \ (n \ge 2)",
            (
                "T4.2/parallel-generalises-redundant",
                "T4.2/redundancy-increasing",
                "T4.2/redundancy-above-single",
                "T4.2/published-figures",
                "T4.2/impl-failover-availability",
            ),
        ),
    ),
    Entry(
        "D4.5",
        "Strong consistency",
        "4",
        r"\forall t_1, t_2:\ \mathrm{Read}(t_2) \text{ sees } \mathrm{Write}(t_1) "
        r"\Rightarrow t_1 < t_2",
        "A read that sees a write happens after that write.",
        (
            "As written this constrains order, not visibility: a store whose "
            "reads never see any write satisfies it.",
            "Strong consistency is read as linearizability instead.",
        ),
        correction=Correction(
            "false",
            "Ordering alone lets a store whose reads never show a completed write "
            "pass. Strong consistency is linearizability: some total order of the "
            "operations respects real time (an operation that returned before "
            "another began comes first) and the object's sequential specification "
            "explains every answer.",
            r"\exists \prec:\ (a \text{ ends before } b \text{ starts} \Rightarrow "
            r"a \prec b) \land \prec \text{ explains every output}",
            (
                "D4.5/linearizability-stated",
                "D4.5/checker-matches-jepsen-etcd",
            ),
        ),
    ),
    Entry(
        "D4.6",
        "Eventual consistency",
        "4",
        r"\lim_{t \to \infty} P(\mathrm{Consistent}(t)) = 1",
        "Given time, the replicas agree with probability tending to one.",
        (
            "Once writes stop, every cached reader converges to the registry's "
            "state, in the specification and in the implementation's discovery "
            "client; a cached reader is not linearizable.",
            "Read as a probability, anti-entropy agreement tends to 1.",
        ),
        correction=Correction(
            "ambiguous",
            "Consistent(t) is not defined. Two readings hold: once writes stop, "
            "every read made at least one cache ttl after the last write returns "
            "the final value (the specification's cached reader and the "
            "implementation's discovery client alike); and with anti-entropy, "
            "where each of k stale replicas catches up with probability p per "
            "round, agreement has the probability below, which tends to 1.",
            r"P(\mathrm{Consistent}(t)) = \left(1 - (1 - p)^t\right)^k \to 1 \quad "
            r"(0 < p < 1)",
            (
                "D4.6/anti-entropy-limit",
                "D4.6/cached-reader-converges",
                "D4.6/impl-discovery-converges",
            ),
        ),
    ),
    Entry(
        "T4.3",
        "CAP",
        "4",
        r"\mathrm{Consistency} \land \mathrm{Availability} \land "
        r"\mathrm{PartitionTolerance} = \mathrm{False}",
        "No distributed system is consistent, available and partition-tolerant "
        "at once; at most two of the three hold together.",
        (
            "In a bounded two-replica model with a partition, no protocol "
            "answers every request and stays linearizable; each pair of the "
            "three is achievable.",
        ),
        correction=Correction(
            "ambiguous",
            "The three properties need a model. In a two-replica model with a "
            "possible partition, over executions of one to three requests (the "
            "bound the verdicts below are proved for), no protocol answers "
            "every request and stays linearizable in every execution, while "
            "each pair of the three is achieved by a protocol. Longer "
            "executions are not examined.",
            "",
            (
                "T4.3/cap-impossible",
                "T4.3/consistent-and-available-without-partitions",
                "T4.3/consistent-and-partition-tolerant",
                "T4.3/available-and-partition-tolerant",
            ),
        ),
    ),
)


class UnknownEntryError(KeyError):
    def __str__(self) -> str:
        return f"no catalogue entry {self.args[0]!r} (entries run D1.1-D4.6, T1.1-T4.3)"


@cache
def entry_order() -> dict[str, int]:
    return {entry.id: position for position, entry in enumerate(ENTRIES)}


def get_entry(entry_id: str) -> Entry:
    for entry in ENTRIES:
        if entry.id == entry_id:
            return entry
    raise UnknownEntryError(entry_id)
