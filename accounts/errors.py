"""The accounts app's error base: services raise it with a message fit to show the user."""


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
