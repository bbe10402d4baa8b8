"""CoalescingFooter: Textual's Footer, rebuilt at most once per frame, and cheaply.

Textual's Footer queues a full recompose (tens of milliseconds) for every
``refresh_bindings``; focus, the tabs and the first rows ask for several
right after launch, and a decision asks for two or three. It
overrides Footer internals (``bindings_changed``, ``_bindings_ready``);
tests/test_structure.py fails loudly if a Textual release renames them.

Each rebuild was also dearer than it needs to be: a ``FooterKey`` is born
``compact`` and then bound to the footer's ``compact`` (False), so every key
added the ``-compact`` class and removed it again as it was mounted, two
restyles of the key each (about 1.5 ms apiece, 25 ms a rebuild for eight
keys). Every focus change rebuilds the footer (its keys are the focused
view's), so that cost landed inside the first ``2``, a filter applied with
Enter, and other keys benchmarks/bench.py times. The keys are now given
the footer's value before they are mounted: nothing changes, no restyle.
"""

from __future__ import annotations

from collections.abc import Iterator

from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class CoalescingFooter(Footer):
    """A Footer that rebuilds once per frame, however often the bindings change."""

    _recompose_queued = False
    #: What the keys on show were built from (see _shown_keys).
    _built_from: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_queued:
            self._recompose_queued = True
            self.call_after_refresh(self._queued_recompose)

    async def _queued_recompose(self) -> None:
        self._recompose_queued = False  # a change from now on queues another
        shown = self._shown_keys()
        if shown == self._built_from:
            return  # the same keys, each as enabled as before: nothing to rebuild
        self._built_from = shown
        if not await self._relabel():
            await self.recompose()

    async def _relabel(self) -> bool:
        """Show the new keys in the key widgets already there; False if that cannot be done.

        A recompose removes every key widget and mounts new ones (styles
        matched, laid out, drawn): 16.6 ms a change against 8.2 relabelled,
        in Pilot at 100k rows, inside each focus change (the first ``2``, a
        filter applied with Enter). The footer's
        keys are a flat row of ``FooterKey`` s (no groups, no palette key), so
        each one can take its new key, label and state in place, and only the
        difference in number is mounted or removed. Grouped bindings (none
        today) fall back to the full recompose.
        """
        if self.show_command_palette or not self._bindings_ready:
            return False
        first: dict[str, tuple[Binding, bool, str]] = {}
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:
                first.setdefault(binding.action, (binding, enabled, tooltip))
        if any(binding.group is not None for binding, _e, _t in first.values()):
            return False
        old = [w for w in self.children if type(w) is FooterKey and not w.has_class("-grouped")]
        if len(old) != len(self.children):
            return False
        self.styles.grid_size_columns = len(first)
        new: list[FooterKey] = []
        for i, (binding, enabled, tooltip) in enumerate(first.values()):
            display = self.app.get_key_display(binding)
            if i < len(old):
                key = old[i]
                key.key, key.key_display, key.action = binding.key, display, binding.action
                key.description = binding.description
                key._disabled = not enabled
                key.set_class(not enabled, "-disabled")
                key.tooltip = tooltip or None
                key.refresh(layout=True)
            else:
                key = FooterKey(binding.key, display, binding.description, binding.action,
                                disabled=not enabled, tooltip=tooltip)  # fmt: skip
                key.set_reactive(FooterKey.compact, self.compact)
                key.set_class(self.compact, "-compact", update=False)
                new.append(key)
        if new:
            await self.mount_all(new)
        if len(old) > len(first):
            await self.remove_children(old[len(first) :])
        return True

    def _shown_keys(self) -> tuple[object, ...]:
        """Everything Footer.compose reads from the bindings, to tell a real change.

        Most binding refreshes (the focus moving between a view's widgets, rows
        arriving, a decision) leave the footer as it was; rebuilding it anyway
        cost a layout and a redraw each, several per key press.
        """
        return tuple(
            (binding.key, binding.action, binding.description, binding.group, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )

    def compose(self) -> Iterator[Widget]:
        compact = self.compact
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # born with the value its data binding would give it a moment later
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget
