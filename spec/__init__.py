"""The executable specification of microservice theory.

Pure, synchronous, deterministic functions over immutable values. Time, when
it matters, is an argument; arithmetic a theorem talks about is exact. The same
functions serve as the model for property-based tests, the source of solver
encodings and the oracle of the linearizability checker.

Modules:

- :mod:`spec.model`: services as five-tuples (D1.1), systems as call graphs
  (D1.2), dependency (D1.5) and composition (D1.6).
- :mod:`spec.balancing`: load-balancing policies as step functions (D2.3,
  D2.4) and the arithmetic kernels the balancing bounds are proved on (T2.2).
- :mod:`spec.quality`: availability of a service, of a chain and of redundant
  replicas (D4.3, D4.4, T4.2).
- :mod:`spec.breaker`: the circuit breaker as one transition function over a
  table of rules (D2.5, D2.6, T1.2, T2.3).
- :mod:`spec.resilience`: retry, bulkhead, timeout and fallback as deciders,
  and the order of the resilient client's layers.
- :mod:`spec.state`: service state (queue, memory, computation), system state
  as their product, and steps that stay local (D1.3, D1.4, T1.1).
- :mod:`spec.communication`: call latency, chains, fan-outs and timeouts;
  message queues and delivery over lossy links; events and partitioned
  streams (D3.1-D3.6, T3.1-T3.3).
- :mod:`spec.scaling`: horizontal scaling, the scale factor and the universal
  scalability law (D4.1, D4.2, T4.1).
- :mod:`spec.consistency`: histories and linearizability, cached readers, and
  a two-replica model for CAP (D4.5, D4.6, T4.3).
"""
