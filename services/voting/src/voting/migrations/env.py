from alembic import context

from congress.messaging.migrations import run_env
from voting.adapters.orm import metadata

run_env(context, metadata)
