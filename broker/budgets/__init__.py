"""Budgets: spend counters, the pure budget decision, enforcement at submit, alerts."""
