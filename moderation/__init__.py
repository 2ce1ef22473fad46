"""Self-hosted comment moderation: threaded comments, toxicity scoring, a review queue."""
