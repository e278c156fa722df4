"""Answer writers: a prompt builder, an extractive answerer and two LLM backends."""
