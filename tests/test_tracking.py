"""Progress bars of the training scripts."""


def test_a_budgeted_progress_bar_counts_toward_the_real_end(monkeypatch):
    """Under a CPU budget the bar's total is the step where the budget runs out at the pace so far, not
    --max_train_steps; the CPU used is shown beside the loss."""
    from types import SimpleNamespace

    from neuroart.training import tracking

    clock = {"t": 50.0}
    monkeypatch.setattr(tracking.time, "process_time", lambda: clock["t"])
    bar = tracking.progress_bar(SimpleNamespace(is_local_main_process=True), 100_000, initial=0, cpu_budget=100.0)
    bar.start_clock(cpu_started=40.0)  # 10 CPU-seconds already spent by an earlier (resumed) segment
    for _ in range(3):
        clock["t"] += 10.0  # 10 CPU-s per step: 90 s left after the first step -> 9 more steps
        bar.update(1)
    assert bar.bar.total == 9  # 3 done + 60 s left / 10 s per step
    bar.set_postfix(loss="1.0")
    assert "40/100s" in str(bar.bar.postfix)
    unbounded = tracking.progress_bar(SimpleNamespace(is_local_main_process=True), 500)
    unbounded.start_clock(cpu_started=0.0)
    unbounded.update(1)
    assert unbounded.bar.total == 500
    bar.close(), unbounded.close()


def test_the_progress_bar_ends_at_the_first_budget(monkeypatch):
    """With a CPU and a wall-clock budget, the bar's total is the step where the first of them runs out."""
    from types import SimpleNamespace

    from neuroart.training import tracking

    clock = {"cpu": 0.0, "wall": 1000.0}
    monkeypatch.setattr(tracking.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(tracking.time, "time", lambda: clock["wall"])
    bar = tracking.progress_bar(SimpleNamespace(is_local_main_process=True), 100_000, cpu_budget=1000.0,
                                wall_budget=20.0)
    bar.start_clock(cpu_started=0.0, wall_started=1000.0)
    for _ in range(2):
        clock["cpu"] += 1.0  # the CPU budget alone would allow 1,000 steps
        clock["wall"] += 2.0  # the wall-clock one 10
        bar.update(1)
    assert bar.bar.total == 10
    bar.set_postfix(loss="1.0")
    assert "4/20s" in str(bar.bar.postfix) and "2/1000s" in str(bar.bar.postfix)
    bar.close()
