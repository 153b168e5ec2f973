"""Admission at saturation: capacity per backend, priority classes and fair queueing per model.

    settings.py     the `admission` configuration section (classes, weights, who is in which class)
    classes.py      a request's class: the configured one, lowered by `x-gateway-priority`
    fair_queue.py   one model's waiting requests: strict priority with minimum shares between
                    classes, weighted fair queueing between departments
    scheduler.py    the per-model queues, woken when a backend frees a slot; 429 `pool_saturated`
    slot.py         a place on a backend, granted to one request until its upstream call takes it
    leases.py       several processes: each one's share of every backend's capacity, from leases
    redis_leases.py those leases in Redis (a Lua script); shares.py: which store, from the configuration
    errors.py       the errors clients see: 400 `invalid_priority`, 429 `pool_saturated`

Nothing is imported here: the configuration imports `settings` alone.
"""
