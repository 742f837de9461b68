using NUnit.Framework.Interfaces;

namespace DiffusionKernels.TestRunner;

/// <summary>Prints one line per finished test and counts the test cases (not suites) by outcome.</summary>
internal sealed class ConsoleListener : ITestListener
{
    // NUnit redirects Console.Out to the running test's captured output, so progress goes to stdout directly.
    private static readonly TextWriter Stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };

    public int Passed { get; private set; }
    public int Failed { get; private set; }
    public int Skipped { get; private set; }
    public List<string> Failures { get; } = [];

    public void TestStarted(ITest test) { }

    public void TestFinished(ITestResult result)
    {
        if (result.Test.IsSuite)
        {
            // A fixture whose one-time setup failed reports its error here; its tests report their own results.
            if (result.ResultState.Status == TestStatus.Failed && result.ResultState.Site is FailureSite.SetUp or FailureSite.TearDown)
                Failures.Add($"FAILED {result.FullName} ({result.ResultState.Site}): {result.Message}");
            return;
        }
        string outcome;
        switch (result.ResultState.Status)
        {
            case TestStatus.Passed:
            case TestStatus.Warning:
                Passed++;
                outcome = "pass";
                break;
            case TestStatus.Failed:
                Failed++;
                outcome = "FAIL";
                Failures.Add($"FAILED {result.FullName}\n  {result.Message?.Trim().Replace("\n", "\n  ")}\n  {FirstFrames(result.StackTrace)}");
                break;
            default:
                Skipped++;
                outcome = "skip";
                break;
        }
        Stdout.WriteLine($"{outcome} {result.Duration,7:F2} s  {result.FullName}{(outcome == "skip" ? $"  ({result.Message?.Trim()})" : "")}");
    }

    public void TestOutput(TestOutput output) { }

    public void SendMessage(TestMessage message) { }

    private static string FirstFrames(string? stackTrace) =>
        stackTrace is null ? "" : string.Join("\n  ", stackTrace.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).Take(4));
}
