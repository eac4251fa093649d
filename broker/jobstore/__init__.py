"""Job state in Redis: records, queues, leases, and the Lua scripts that move jobs between them.

Shared by the control plane (API, scheduler) and the data plane (workers): every state
transition of a job is one atomic script here, so no process can half-move a job.
"""
