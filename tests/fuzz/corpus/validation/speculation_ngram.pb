
the the the
**