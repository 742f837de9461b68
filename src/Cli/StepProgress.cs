using System.Diagnostics;
using DiffusionKernels.Samplers.Sampling;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DiffusionKernels.Cli;

/// <summary>
/// Progress of a sampling run: a live bar with step, it/s and ETA on a terminal; a few plain lines per batch when the
/// output is redirected (logs, CI).
/// </summary>
internal static class StepProgress
{
    /// <summary>Runs <paramref name="work"/>, giving it the callback that reports each step of <paramref name="totalSteps"/>.</summary>
    public static T Run<T>(string title, int totalSteps, Func<Action<RunProgress>, T> work)
    {
        if (Console.IsOutputRedirected)
        {
            var clock = Stopwatch.StartNew();
            int done = 0;
            return work(p =>
            {
                done++;
                int step = p.Step.Step + 1;
                if (done != 1 && step != p.Step.Steps && step % Math.Max(1, p.Step.Steps / 4) != 0) return;
                double rate = done / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                Console.WriteLine($"  {title}: samples {p.SamplesDone + 1}…, step {step}/{p.Step.Steps}, σ {p.Step.NextSigma:G3}, NFE {p.Step.Evaluations}, "
                                  + $"{rate:F1} it/s, ETA {(totalSteps - done) / rate:F0} s");
            });
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new StepRateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(title, maxValue: totalSteps);
                result = work(p =>
                {
                    task.Increment(1);
                    task.Description = $"{title} {p.SamplesDone + 1}/{p.Samples} step {p.Step.Step + 1}/{p.Step.Steps}";
                });
                task.Value = totalSteps;
            });
        return result;
    }

    /// <summary>Solver steps per second.</summary>
    private sealed class StepRateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is { } s ? $"{s:F1} it/s" : "– it/s");
    }
}
