"""Everything about talking to KSeF: the API client, FA(3) documents, connections, sending and import."""
