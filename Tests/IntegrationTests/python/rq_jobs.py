"""Jobs for rq_check.py (rq imports a job's function by its module path)."""


def add(a, b):
    return a + b
