"""The KSeF API 2.0 client. It imports nothing from Django so that it can be lifted out as a library."""
