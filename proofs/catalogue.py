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
    ),
    Entry(
        "D1.3",
        "Service state",
        "1",
        r"\mathrm{State}(S_i, t) = (q_i, m_i, c_i)",
        "The state of a service at a time is its queue state, its memory state "
        "and its computation state.",
        ("Each of the three components can be read back from the state it built.",),
    ),
    Entry(
        "D1.4",
        "System state",
        "1",
        r"\mathrm{SystemState}(t) = \prod_{i=1}^{n} \mathrm{State}(S_i, t)",
        "The state of the whole system is the product of its services' states.",
        ("Projecting the product on a service and rebuilding it round-trips.",),
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
    ),
    Entry(
        "D2.5",
        "Circuit-breaker states",
        "2",
        r"\mathrm{State} = \{\mathrm{Closed}, \mathrm{Open}, \mathrm{HalfOpen}\}",
        "A breaker is closed (calls pass), open (calls fail fast) or half-open "
        "(a few trial calls pass).",
        ("Only the transitions of the breaker's table are legal.",),
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
            "after their caller gave up.",
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
    ),
    Entry(
        "D3.5",
        "Event",
        "3",
        r"\mathrm{Event} = (\mathrm{EventId}, \mathrm{EventType}, "
        r"\mathrm{Payload}, \mathrm{Timestamp})",
        "An event is an immutable fact: an id, a type, a payload and a timestamp.",
        ("Events cannot be changed after they are built, and readers get copies.",),
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
    ),
    Entry(
        "D4.1",
        "Horizontal scaling",
        "4",
        r"\mathrm{HorizontalScale}(S, n) = \{S_1, S_2, \dots, S_n\}",
        "Scaling out runs n instances of a service.",
        ("Scaling out to n gives n distinct replicas of one definition.",),
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
