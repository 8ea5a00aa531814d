"""Identity: password hashing and policy, users, login with throttling, MFA."""

from bastion.identity._admin import UserAdmin as UserAdmin
from bastion.identity._breached import BreachedList as BreachedList
from bastion.identity._hashers import PasswordHashing as PasswordHashing
from bastion.identity._hashers import VerifyResult as VerifyResult
from bastion.identity._hashers import normalise_password as normalise_password
from bastion.identity._mfa import InvalidCode as InvalidCode
from bastion.identity._mfa_service import MfaService as MfaService
from bastion.identity._mfa_service import TotpEnrolment as TotpEnrolment
from bastion.identity._policy import PasswordPolicy as PasswordPolicy
from bastion.identity._policy import Violation as Violation
from bastion.identity._service import IdentityService as IdentityService
from bastion.identity._service import MfaChallenge as MfaChallenge
from bastion.identity._service import Registered as Registered
from bastion.identity._throttle import LoginThrottle as LoginThrottle
from bastion.identity._users import User as User
from bastion.identity._users import UserStore as UserStore
from bastion.identity._users import username_problem as username_problem

__all__ = [
    "BreachedList",
    "IdentityService",
    "InvalidCode",
    "LoginThrottle",
    "MfaChallenge",
    "MfaService",
    "PasswordHashing",
    "PasswordPolicy",
    "Registered",
    "TotpEnrolment",
    "User",
    "UserAdmin",
    "UserStore",
    "VerifyResult",
    "Violation",
    "normalise_password",
    "username_problem",
]
