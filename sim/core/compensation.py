"""When death and injury compensation is paid, and by whom.

- The killed: their families' compensation (federal C_kia and regional top-up, at the
  amounts in force in the step of the death) times the take-up share enters a payment
  pipeline of mean delay compensation.delay_months, which holds RUB owed.
- The missing: a share losses.missing_declared_dead_share enters a declaration pipeline
  (persons) of mean delay losses.missing_declaration_months; those declared dead in a step
  enter the payment pipeline at that step's killed amounts.
- The wounded: paid in the step, times the take-up share.
Without delays, take-up or declarations this is version 1's C_kia kappa c_k + C_wia w_k,
computed with the same operations. Delays use `sim.core.pipelines`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.pipelines import Pipeline, pipeline
from sim.core.schedules import Params, Schedules, at_step, step_values


@dataclass(eq=False)
class Compensation:
    """Compensation paid per step by payer, with the stocks it carries.

    Attributes
    ----------
    killed_rub, wounded_rub : dict of str to ndarray
        Amounts per person by payer (``"federal"``, ``"regional"``), (n,) or (K, n) [RUB].
    timed : bool
        A delay, a take-up share below 1 or declarations of the missing are in play;
        otherwise every step is paid at once (version 1).
    take_up : ndarray, shape (n,)
        Share of what is owed that is claimed [1].
    declared_share : ndarray, shape (n,)
        Share of the missing declared dead in the end [1].
    payment, declaration : Pipeline
        The payment (RUB owed) and declaration (persons) pipelines.
    owed_rub : dict of str to ndarray
        RUB owed at each step boundary by payer, (K + 1, n).
    zero : dict of str to bool
        The payer pays nothing (its amounts are zero in every sample and step).
    awaiting_persons : ndarray, shape (K + 1, n)
        Missing persons who will be declared dead, not yet declared.
    """

    killed_rub: dict[str, np.ndarray]
    wounded_rub: dict[str, np.ndarray]
    timed: bool
    take_up: np.ndarray
    declared_share: np.ndarray
    payment: Pipeline
    declaration: Pipeline
    owed_rub: dict[str, np.ndarray]
    awaiting_persons: np.ndarray
    zero: dict[str, bool]

    def pay(self, steps: int | slice, killed: np.ndarray, missing: np.ndarray,
            wounded: np.ndarray, out: dict[str, np.ndarray], scratch: np.ndarray) -> None:
        """Pay compensation for step (or steps) `steps` into ``out[payer][steps]``.

        Parameters
        ----------
        steps : int or slice
            One step (inside the time loop) or, when not `timed`, any range of steps.
        killed, missing, wounded : ndarray
            The steps' casualties [persons], (n,) for one step or (len, n).
        out : dict of str to ndarray
            (K, n) arrays by payer [RUB per step].
        scratch : ndarray
            Work array of `killed`'s shape.
        """
        for payer, paid in out.items():
            if self.zero[payer]:
                paid[steps] = 0.0
        if not self.timed:
            for payer, paid in out.items():
                if self.zero[payer]:
                    continue
                row = paid[steps]
                np.multiply(at_step(self.killed_rub[payer], steps), killed, out=row)
                row += np.multiply(at_step(self.wounded_rub[payer], steps), wounded, out=scratch)
            return
        k = steps
        awaiting = self.awaiting_persons
        declared = self.declaration.step(k, awaiting[k], self.declared_share * missing,
                                         awaiting[k + 1], np.empty_like(killed))
        deaths = np.add(killed, declared)
        for payer, paid in out.items():
            if self.zero[payer]:
                continue
            owed = self.owed_rub[payer]
            incurred = np.multiply(at_step(self.killed_rub[payer], k), deaths)
            incurred *= self.take_up
            self.payment.step(k, owed[k], incurred, owed[k + 1], paid[k])
            paid[k] += np.multiply(at_step(self.wounded_rub[payer], k) * self.take_up, wounded,
                                   out=scratch)


def build_compensation(p: Params, schedules: Schedules, days: np.ndarray) -> Compensation:
    """The compensation rules of sampled parameters `p` on steps of `days`."""
    n_steps, n = len(days), len(p["force.initial_persons"])
    take_up = p["compensation.take_up_share"]
    declared_share = p["losses.missing_declared_dead_share"]
    delay = p["compensation.delay_months"]
    timed = bool(np.any(delay) or np.any(take_up != 1) or np.any(declared_share))
    if timed:
        stocks = {payer: np.zeros((n_steps + 1, n)) for payer in ("federal", "regional")}
    else:  # nothing is ever owed: one array of zeros serves both payers
        nothing = np.zeros((n_steps + 1, n))
        stocks = {"federal": nothing, "regional": nothing}
    killed_rub = {"federal": step_values(p, "compensation.per_killed_rub", schedules),
                  "regional": step_values(p, "compensation.regional_per_killed_rub",
                                          schedules)}
    wounded_rub = {"federal": step_values(p, "compensation.per_wounded_rub", schedules),
                   "regional": step_values(p, "compensation.regional_per_wounded_rub",
                                           schedules)}
    return Compensation(
        killed_rub=killed_rub,
        wounded_rub=wounded_rub,
        timed=timed,
        take_up=take_up,
        declared_share=declared_share,
        payment=pipeline(delay, days),
        declaration=pipeline(p["losses.missing_declaration_months"], days),
        owed_rub=stocks,
        awaiting_persons=np.zeros((n_steps + 1, n)),
        zero={payer: not (np.any(killed_rub[payer]) or np.any(wounded_rub[payer]))
              for payer in killed_rub},
    )
