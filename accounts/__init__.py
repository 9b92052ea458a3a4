"""Users (e-mail login), companies with their NIP, memberships and invitations."""
