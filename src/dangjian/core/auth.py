"""Login by user name or by mobile number."""

from django.contrib.auth.backends import ModelBackend

from .crypto import keyed_hash
from .models import User


class UsernameOrMobileBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        text = username.strip()
        user = User.objects.filter(username__iexact=text).first()
        if user is None and text.isdigit():
            user = User.objects.filter(mobile_hash=keyed_hash(text)).first()
        if user is None:
            # Run the hasher anyway so timing does not tell which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
