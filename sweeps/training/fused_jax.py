"""Fused fits on Keras's JAX backend: a trial's copies stepped by one compiled function per epoch.

Each copy is the pipeline's own compiled model, built exactly as it would be alone (the same
Keras session reset and seed: the same initial weights and dropout seed state), trained on its
own rows in its own order (``sweeps.training.batches.epoch_order``, what its fit alone is fed).
Copies of one structure on as many rows form a group, whose stacked state one jitted function
steps through a whole epoch (``sweeps.training.stacked``); models that differ only in hidden
widths are one group, stepped as the widest (``sweeps.training.widened``), as are models that
differ in activations or loss, each copy computing its own (``sweeps.training.choices``). Between
epochs the host reads every copy's metrics once, runs its callbacks (logging, progress, early
stopping), keeps each copy's best epoch's weights on the device, and masks a copy that stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import keras
import numpy as np

from sweeps.training.batches import count, epoch_order, rows
from sweeps.training.choices import stepping
from sweeps.training.fit import BestEpoch, FitRequest, end_epoch, fresh_model
from sweeps.training.stacked import Rows, along, epoch_function, evaluation_function, stack, taken
from sweeps.training.widened import corner, state_of, widened
from sweeps.training.widened import merged as widened_groups


class DeviceBest(BestEpoch):
    """``BestEpoch`` whose weights stay on the device: it marks the epoch that improved, and the
    fused loop keeps that copy's state."""

    improved = False

    def keep(self) -> None:
        self.improved = True

    def on_train_end(self, logs: Any = None) -> None:
        pass  # the fused loop writes the best weights back


@dataclass
class Member:
    """One copy of the fused set: its model, its data, its callbacks and what it has logged."""

    request: FitRequest
    model: keras.Model
    callbacks: keras.callbacks.CallbackList
    best: DeviceBest | None
    history: dict[str, list[float]] = field(default_factory=dict)


def member(request: FitRequest, callbacks: list[keras.callbacks.Callback], best: DeviceBest | None = None) -> Member:
    """A copy built as ``fit`` builds it, its optimizer and metric state made (``callbacks``
    include ``best``, where it keeps one)."""
    model = fresh_model(request)
    model._symbolic_build(data_batch=first_batch(request))  # what fit does first
    model.reset_metrics()
    listed = keras.callbacks.CallbackList(callbacks, model=model)
    return Member(request, model, listed, best)


def first_batch(request: FitRequest) -> tuple[Any, Any]:
    """The first batch a fit of ``request`` takes, which Keras builds a model's state from."""
    data, first = request.dataset, np.arange(min(request.hp["batch_size"], count(request.dataset.x_train)))
    return rows(data.x_train, first), rows(data.y_train, first)


class Group:
    """Copies of one model structure (or of models that differ only in hidden widths, stepped as
    the widest, and in activations and loss, each copy's chosen) on as many rows each, stepped
    together."""

    def __init__(self, members: Sequence[Member], validate: bool, pools: Pools, widest: keras.Model) -> None:
        self.members = list(members)
        # The widest of their models (sweeps.training.widened), computing each copy's choices.
        self.model, self.picked = stepping(widest, [m.model for m in members], first_batch(members[0].request))
        self.batch_size = members[0].request.hp["batch_size"]
        self.pools = pools
        sets = [m.request.dataset for m in members]
        self.sparse = any(getattr(tensor, "sparse", False) for tensor in self.model.inputs)  # its input is declared so
        self.train = pools.of([(d.x_train, d.y_train) for d in sets], self.sparse)
        self.validation = pools.of([(d.x_val, d.y_val) for d in sets], self.sparse) if validate else None
        wide = [[tuple(v.shape) for v in part] for part in state_of(self.model)]
        self.state = tuple(  # the structure the compiled epoch hands back; narrower copies widened
            stack([widened([v.value for v in state_of(m.model)[which]], shapes) for m in members])
            for which, shapes in enumerate(wide)
        )
        self.reset = self.state[3]  # the metrics as Keras resets them, each epoch and evaluation
        self.best = (list(self.state[0]), list(self.state[1]))
        self.improved = np.zeros(len(self.members), bool)  # the copies whose last epoch was their best
        epochs = max(m.request.hp["epochs"] for m in members)
        self._val_numbers = self._in_order([(d.x_val, d.y_val) for d in sets], self.validation) if validate else None
        self._numbers: dict[int, tuple[Any, Any]] = {}  # epochs' row numbers made ahead (sparse rows), until used
        trained = taken(self.train, (self._train_numbers(epoch) for epoch in range(epochs)) if self.train.x.width else ())
        validated = taken(self.validation, [self._val_numbers]) if validate else None
        self._epoch = epoch_function(self.model, trained, validated, epochs, self.picked)

    def arguments(self, epoch: int, active: np.ndarray) -> tuple[Any, ...]:
        """The compiled epoch's arguments for ``epoch``: every copy's rows in its own order."""
        data = (self.train.data, self.validation.data if self.validation else None)
        numbers = self._numbers.pop(epoch, None) or self._train_numbers(epoch, keep=False)
        return self.state, (self.best, self.improved), active, data, (numbers, self._val_numbers), self.reset

    def step(self, epoch: int, active: np.ndarray) -> tuple[Any, Any]:
        """Dispatch one epoch of every copy (``active`` ones change); its logs, still on the device."""
        self.state, self.best, logs, val_logs = self._epoch(*self.arguments(epoch, active))
        return logs, val_logs

    def settle(self) -> None:
        """Keep the state of the copies whose last epoch was their best (the next epoch would have)."""
        if self.improved.any():
            best, now = jax.device_get((self.best, tuple(self.state[:2])))
            self.best = jax.tree.map(lambda kept, new: np.where(along(self.improved, new), new, kept), best, now)
            self.improved = np.zeros(len(self.members), bool)

    def evaluate(self, arrays: Sequence[tuple[Any, Any]], best: bool) -> list[dict[str, float]]:
        """Every copy's ``test_step`` metrics on its ``(x, y)``, with its best epoch's weights
        (``best``) or its last."""
        rows = self.pools.of(arrays, self.sparse)
        trainable, non_trainable = self.best if best else self.state[:2]
        numbers = self._in_order(arrays, rows)
        evaluation = evaluation_function(self.model, taken(rows, [numbers]), self.picked)
        logs = evaluation(trainable, non_trainable, self.reset, rows.data, numbers)
        return per_copy_logs(logs, len(self.members))

    def write_back(self, best: bool) -> None:
        """Each copy's weights (its best epoch's, or its last) and optimizer state into its model."""
        trainable, non_trainable = self.best if best else self.state[:2]
        stacked = jax.device_get((trainable, non_trainable, self.state[2]))  # sliced on the host: no compile per shape
        for index, one in enumerate(self.members):
            model = one.model
            for variables, values in zip(state_of(model)[:3], stacked, strict=True):
                for variable, value in zip(variables, values, strict=True):
                    variable.assign(corner(value[index], tuple(variable.shape)))

    def _train_numbers(self, epoch: int, keep: bool = True) -> tuple[Any, Any]:
        """``epoch``'s training row numbers, batched; ``keep``: kept for its epoch (sparse rows size
        their batches by every epoch's numbers first, so they are made once)."""
        numbers = self._batched(self._orders(epoch))
        if keep:
            self._numbers[epoch] = numbers
        return numbers

    def _orders(self, epoch: int) -> list[np.ndarray]:
        """Every copy's training rows in ``epoch``'s order (as its fit alone takes them)."""
        return [
            epoch_order(count(m.request.dataset.x_train), m.request.hp["seed"], epoch)
            + self.train.offset(m.request.dataset.x_train, m.request.dataset.y_train)
            for m in self.members
        ]

    def _batched(self, orders: Sequence[np.ndarray]) -> tuple[Any, Any]:
        """Row numbers as (full batches, last batch), each with a copy axis."""
        ordered = np.stack(orders).astype(np.int32)
        full = (ordered.shape[1] // self.batch_size) * self.batch_size
        return ordered[:, :full].reshape(len(orders), -1, self.batch_size), ordered[:, full:]

    def _in_order(self, pairs: Sequence[tuple[Any, Any]], rows: Rows) -> tuple[Any, Any]:
        return self._batched([np.arange(count(x)) + rows.offset(x, y) for x, y in pairs])


class Pools:
    """The device copies of a fused set's arrays, made once however many groups use them."""

    def __init__(self) -> None:
        self._made: dict[tuple[Any, ...], Rows] = {}

    def of(self, pairs: Sequence[tuple[Any, Any]], sparse_batches: bool) -> Rows:
        """The rows of the (inputs, labels) ``pairs`` (sparse rows taken as sparse batches, or dense)."""
        key = (sparse_batches, *sorted({(id(x), id(y)) for x, y in pairs}))
        if key not in self._made:
            self._made[key] = Rows(pairs, sparse_batches)
        return self._made[key]


def groups(members: Sequence[Member], validate: bool) -> list[Group]:
    """``members`` grouped by what must be equal to step together: the model (every
    hyperparameter but the seed), the row counts, the weight shapes."""
    keyed: dict[tuple[Any, ...], list[Member]] = {}
    for one in members:
        data, hp = one.request.dataset, one.request.hp
        model = (one.request.pipeline.name, tuple(sorted((key, repr(value)) for key, value in hp.items() if key != "seed")))
        shapes = tuple(tuple(v.shape) for v in one.model.trainable_variables)
        keyed.setdefault((model, count(data.x_train), count(data.x_val), shapes), []).append(one)
    pools = Pools()
    shared = widened_groups(list(keyed.values()), lambda one: one.model, _rows_and_batches)
    return [Group(found, validate, pools, model) for found, model in shared]


def _rows_and_batches(one: Member) -> tuple[Any, ...]:
    """What copies of models that differ only in width must share to step as one group."""
    data = one.request.dataset
    return one.request.pipeline.name, count(data.x_train), count(data.x_val), one.request.hp["batch_size"]


def per_copy_logs(logs: Any, copies: int) -> list[dict[str, float]]:
    """Stacked logs read back from the device as one dict per copy."""
    columns = {key: np.asarray(values, np.float64).tolist() for key, values in (jax.device_get(logs) or {}).items()}
    return [{key: column[index] for key, column in columns.items()} for index in range(copies)]


def train(members: Sequence[Member], validate: bool) -> list[Group]:
    """The epoch loop of ``model.fit`` for every member at once, each for its own ``epochs``;
    the groups, trained, with each member's best (or, without a ``best``, last) weights written
    back into its model."""
    if not members:
        return []
    stepped = groups(members, validate)
    for one in members:
        one.model.stop_training = False
        one.callbacks.on_train_begin()
    for epoch in range(max(m.request.hp["epochs"] for m in members)):
        active = [np.array([_training(m, epoch) for m in group.members]) for group in stepped]
        if not any(mask.any() for mask in active):
            break
        for group, mask in zip(stepped, active, strict=True):
            for one in np.array(group.members)[mask]:
                one.callbacks.on_epoch_begin(epoch)
        # Every group with a copy still training runs before one is read; a group whose copies
        # have all stopped (early stopping, pruning) is not stepped at all.
        moving = [(group, mask) for group, mask in zip(stepped, active, strict=True) if mask.any()]
        dispatched = jax.device_get([group.step(epoch, mask) for group, mask in moving])  # one wait for them all
        for (group, mask), (logs, val_logs) in zip(moving, dispatched, strict=True):
            copies = len(group.members)
            trained, validated = per_copy_logs(logs, copies), per_copy_logs(val_logs, copies)
            for index in np.flatnonzero(mask):
                one = group.members[index]
                if one.best is not None:
                    one.best.improved = False
                end_epoch(one.model, one.callbacks, one.history, epoch, {**trained[index], **_prefixed(validated[index])})
            if group.members[0].best is not None:
                group.improved = np.array([bool(m.best.improved) for m in group.members])
    for group in stepped:
        group.settle()
        group.write_back(best=group.members[0].best is not None)
    for one in members:
        one.callbacks.on_train_end()
    return stepped


def _training(one: Member, epoch: int) -> bool:
    return not one.model.stop_training and epoch < one.request.hp["epochs"]


def _prefixed(logs: dict[str, float]) -> dict[str, float]:
    return {f"val_{key}": value for key, value in logs.items()}
