"""Domain logic. Functions take a Session and their collaborators, flush but never
commit (the caller owns the transaction), raise the exceptions below, never import Flask."""
