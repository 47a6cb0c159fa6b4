"""Every "may X do Y to Z" rule of Plate, and nowhere else.

The reporting line is a tree (no cycles); "above" means direct or skip-level manager.
"""
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from webapp.models import Item, User


def ids_above(user_id: int):
    """A SELECT of the ids of everyone above `user_id`, as one recursive query."""
    chain = select(User.manager_id.label("id")).where(User.id == user_id).cte("chain_above", recursive=True)
    chain = chain.union(select(User.manager_id).join(chain, User.id == chain.c.id))
    return select(chain.c.id).where(chain.c.id.is_not(None))


def ids_below(user_id: int):
    """A SELECT of the ids of everyone below `user_id` (all levels), as one recursive query."""
    tree = select(User.id.label("id")).where(User.manager_id == user_id).cte("tree_below", recursive=True)
    tree = tree.union(select(User.id).join(tree, User.manager_id == tree.c.id))
    return select(tree.c.id)


def is_above(session: Session, actor: User, person: User) -> bool:
    if person.manager_id is None or actor.organization_id != person.organization_id:
        return False
    if person.manager_id == actor.id:
        return True
    above = ids_above(person.id).subquery()
    return session.scalar(select(exists().where(above.c.id == actor.id)))


def may_view_plate(session: Session, actor: User, owner: User) -> bool:
    return actor.id == owner.id or is_above(session, actor, owner)


def plate_visible_to(actor_id, owner_id):
    """may_view_plate as a SQL condition on ids (columns or bound parameters), for lean reads."""
    above = ids_above(owner_id).subquery()
    return or_(owner_id == actor_id, exists().where(above.c.id == actor_id))


def may_view_item(session: Session, actor: User, item: Item) -> bool:
    """Visible to everyone who may see the owner's plate, and to its creator."""
    return item.created_by_id == actor.id or may_view_plate(session, actor, item.owner)


may_edit_item = may_view_item


def may_add_to(session: Session, actor: User, owner: User) -> bool:
    """Onto one's own plate, anyone's below, or one's direct manager's (a request up)."""
    return actor.id == owner.id or owner.id == actor.manager_id or is_above(session, actor, owner)


def may_manage_people(actor: User) -> bool:
    return actor.is_admin


def may_change_organization_settings(actor: User) -> bool:
    return actor.is_admin


def may_invite(session: Session, actor: User, manager: User | None, make_admin: bool) -> bool:
    """Admins invite anyone; others invite people who will report to them or to someone below them."""
    if actor.is_admin:
        return True
    if make_admin or manager is None:
        return False
    return manager.id == actor.id or is_above(session, actor, manager)
