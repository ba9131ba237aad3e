"""Every table of the programme, imported once so `Base.metadata` is whole: migrations are
checked against it, and foreign keys name tables by string."""

from domain.campaigns import tables as campaigns  # noqa: F401
from domain.community import tables as community  # noqa: F401
from domain.conversations import tables as conversations  # noqa: F401
from domain.feedback import tables as feedback  # noqa: F401
from domain.insight import tables as insight  # noqa: F401
from domain.lifecycle import tables as lifecycle  # noqa: F401
from domain.members import tables as members  # noqa: F401
from domain.membership import tables as membership  # noqa: F401
from domain.notices import tables as notices  # noqa: F401
from domain.points import tables as points  # noqa: F401
from domain.privacy import tables as privacy  # noqa: F401
from domain.rewards import tables as rewards  # noqa: F401
from domain.staff import tables as staff  # noqa: F401
from domain.support import tables as support  # noqa: F401
from domain.tiers import tables as tiers  # noqa: F401
