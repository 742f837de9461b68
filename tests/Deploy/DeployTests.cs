using System.Diagnostics;
using DiffusionKernels.Samplers.Datasets;
using DiffusionKernels.Tests.Cli;
using DiffusionKernels.Tests.Datasets;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Deploy;

/// <summary>
/// The files of deploy/: the Kubernetes Indexed Job (structure checked here; kubectl's client dry run where a cluster
/// answers), the Dockerfile it runs, and the Slurm job array, which is run under a stub srun that executes its command,
/// shard by shard, and merged into the bytes of one run.
/// </summary>
[NonParallelizable]
public class DeployTests
{
    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DiffusionKernels.sln")) && Directory.Exists(Path.Combine(dir.FullName, "deploy")))
                return dir.FullName;
        throw new DirectoryNotFoundException("the repository root (with deploy/) was not found above the test binaries");
    }

    private static string Deploy(string path) => Path.Combine(Root(), "deploy", path);

    private static Dictionary<string, object?> Map(object? node, string what) =>
        node as Dictionary<string, object?> ?? throw new AssertionException($"{what} is not a map");

    private static List<object?> List(object? node, string what) =>
        node as List<object?> ?? throw new AssertionException($"{what} is not a list");

    private static object? At(object? node, string path)
    {
        foreach (var key in path.Split('.'))
        {
            var map = Map(node, path);
            Assert.That(map.ContainsKey(key), $"{path}: '{key}' is present");
            node = map[key];
        }
        return node;
    }

    [Test]
    public void TheIndexedJobRequestsAGpuPerShardAndWritesShardsToASharedVolume()
    {
        var job = MiniYaml.Parse(File.ReadAllText(Deploy("kubernetes/sample-job.yaml")));
        Assert.That(At(job, "apiVersion"), Is.EqualTo("batch/v1"));
        Assert.That(At(job, "kind"), Is.EqualTo("Job"));
        Assert.That(At(job, "spec.completionMode"), Is.EqualTo("Indexed"));
        int completions = int.Parse((string)At(job, "spec.completions")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(int.Parse((string)At(job, "spec.parallelism")!, System.Globalization.CultureInfo.InvariantCulture), Is.InRange(1, completions));
        Assert.That(At(job, "spec.template.spec.restartPolicy"), Is.AnyOf("Never", "OnFailure"));

        var container = Map(List(At(job, "spec.template.spec.containers"), "containers").Single(), "container");
        Assert.That(container["image"], Is.TypeOf<string>().And.Not.Empty);
        var args = List(container["args"], "args").Cast<string>().ToList();
        Assert.That(args[0], Is.EqualTo("sample"));
        string Value(string flag) => args[args.IndexOf(flag) + 1];
        Assert.That(Value("--shard"), Is.EqualTo($"auto/{completions}"), "one shard per completion index");
        Assert.That(args, Does.Contain("--resume"), "a retried pod continues its shard");
        Assert.That(args, Has.None.EqualTo("--force"), "a retried pod never replaces a shard");
        Assert.That(Value("--device"), Does.StartWith("cuda"));
        Assert.That(Value("--model"), Is.EqualTo("/app/models/phantom64"), "the model the Dockerfile puts in the image");
        var output = Value("--output");
        Assert.That(output, Does.Contain("$(SHARD_INDEX)"), "each pod writes its own folder");
        var env = List(container["env"], "env").Select(e => Map(e, "env entry")).Single(e => (string?)e["name"] == "SHARD_INDEX");
        Assert.That(At(env, "valueFrom.fieldRef.fieldPath"), Is.EqualTo("metadata.annotations['batch.kubernetes.io/job-completion-index']"));

        var mount = Map(List(container["volumeMounts"], "volumeMounts").Single(), "volumeMount");
        Assert.That(output, Does.StartWith((string)mount["mountPath"]! + "/"), "the output lies on the mounted volume");
        var volume = Map(List(At(job, "spec.template.spec.volumes"), "volumes").Single(v => (string?)Map(v, "volume")["name"] == (string?)mount["name"]), "volume");
        var claim = (string)At(volume, "persistentVolumeClaim.claimName")!;
        var pvc = MiniYaml.Parse(File.ReadAllText(Deploy("kubernetes/volume.yaml")));
        Assert.That(At(pvc, "kind"), Is.EqualTo("PersistentVolumeClaim"));
        Assert.That(At(pvc, "metadata.name"), Is.EqualTo(claim));
        Assert.That(List(At(pvc, "spec.accessModes"), "accessModes"), Does.Contain("ReadWriteMany"), "all pods write at once");

        // Every option the job passes is one dk sample takes.
        var help = CliRunner.Run("sample", "--help").Out;
        foreach (var flag in args.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
            Assert.That(help, Does.Contain(flag + " "), $"dk sample takes {flag}");

        var merge = MiniYaml.Parse(File.ReadAllText(Deploy("kubernetes/merge-job.yaml")));
        var mergeArgs = List(Map(List(At(merge, "spec.template.spec.containers"), "containers").Single(), "container")["args"], "args").Cast<string>().ToList();
        Assert.That(mergeArgs[0], Is.EqualTo("merge"));
        var shardFolders = Enumerable.Range(0, completions).Select(i => output.Replace("$(SHARD_INDEX)", $"{i}", StringComparison.Ordinal)).ToList();
        Assert.That(mergeArgs.Skip(1).TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)), Is.EquivalentTo(shardFolders), "the merge job joins every shard the sample job writes");
    }

    [Test]
    public void TheGpuRequestIsOneDevicePerPod()
    {
        var job = MiniYaml.Parse(File.ReadAllText(Deploy("kubernetes/sample-job.yaml")));
        var limits = Map(At(Map(List(At(job, "spec.template.spec.containers"), "containers").Single(), "container"), "resources.limits"), "limits");
        Assert.That(limits["nvidia.com/gpu"], Is.EqualTo("1"));
    }

    [Test]
    public void TheMiniYamlReaderRefusesWhatItDoesNotUnderstand()
    {
        Assert.Throws<FormatException>(() => MiniYaml.Parse("a: [1, 2]"));
        Assert.Throws<FormatException>(() => MiniYaml.Parse("a: 1\na: 2"));
        Assert.Throws<FormatException>(() => MiniYaml.Parse("a:\n  b: 1\n   c: 2"));
        Assert.Throws<FormatException>(() => MiniYaml.Parse("a:\n\tb: 1"));
        var parsed = MiniYaml.Parse("# c\na:\n  - x: '1' # note\n    y: \"two\"\n  - plain\nb: c:d");
        Assert.That(At(parsed, "b"), Is.EqualTo("c:d"));
        var items = List(At(parsed, "a"), "a");
        Assert.That(Map(items[0], "item")["y"], Is.EqualTo("two"));
        Assert.That(items[1], Is.EqualTo("plain"));
    }

    [Test]
    public void KubectlAcceptsTheManifestsWhereAClusterAnswers()
    {
        foreach (var file in new[] { "sample-job.yaml", "merge-job.yaml", "volume.yaml" })
        {
            var (code, output) = RunProcess("kubectl", ["create", "--dry-run=client", "-o", "name", "-f", Deploy($"kubernetes/{file}")], null, TimeSpan.FromSeconds(60));
            if (code is null) Assert.Ignore("kubectl is not installed; the structure is checked by the other tests");
            if (code != 0 && (output.Contains("connection refused", StringComparison.Ordinal) || output.Contains("unable to recognize", StringComparison.Ordinal) || output.Contains("failed to download openapi", StringComparison.Ordinal)))
                Assert.Ignore($"kubectl finds no cluster to read the API schema from ({output.Trim().Split('\n')[0]}); the structure is checked by the other tests");
            Assert.That(code, Is.Zero, $"{file}: {output}");
        }
    }

    [Test]
    public void TheDockerfileBuildsDkWithTheBundledModelWhereTheJobLooksForIt()
    {
        var dockerfile = File.ReadAllText(Deploy("docker/Dockerfile"));
        Assert.That(dockerfile, Does.Contain("dotnet publish src/Cli/dk.csproj"));
        Assert.That(File.Exists(Path.Combine(Root(), "src/Cli/dk.csproj")));
        Assert.That(dockerfile, Does.Contain("cp -r models/phantom64 /app/models/phantom64"));
        Assert.That(File.Exists(Path.Combine(Root(), "models/phantom64/config.json")));
        Assert.That(dockerfile, Does.Contain("COPY deploy/docker/entrypoint.sh"));
        Assert.That(File.ReadAllText(Deploy("docker/entrypoint.sh")), Does.Contain("exec dotnet /app/dk.dll \"$@\""));
        Assert.That(File.ReadAllText(Path.Combine(Root(), ".dockerignore")), Does.Contain("**/bin/"));
    }

    [Test]
    public void TheSlurmArrayRunsUnderAStubSrunAndItsShardsMergeIntoOneRun()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/bin/bash")) Assert.Ignore("the Slurm scripts are bash scripts for Linux clusters");
        var dir = Directory.CreateTempSubdirectory("dk-slurm-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "gmm.json"), DatasetFolders.MixtureSpec);
            var bin = Directory.CreateDirectory(Path.Combine(dir, "bin")).FullName;
            var log = Path.Combine(dir, "srun.log");
            // The stub srun logs what it was asked to run (with the task id it saw) and runs it, as srun does in a job step.
            File.WriteAllText(Path.Combine(bin, "srun"), "#!/bin/sh\necho \"task=$SLURM_ARRAY_TASK_ID $*\" >> \"$SRUN_LOG\"\nexec \"$@\"\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(bin, "srun"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
            var env = new Dictionary<string, string>
            {
                ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
                ["SRUN_LOG"] = log,
                ["DK"] = $"{host} {Path.Combine(AppContext.BaseDirectory, "dk.dll")}",
                ["DATASET"] = Path.Combine(dir, "dataset"),
                ["MODEL"] = "gmm:" + Path.Combine(dir, "gmm.json"),
                ["NUM_SAMPLES"] = "11",
                ["SEED"] = "7",
                ["CHUNK_SIZE"] = "2",
                ["BATCH_SIZE"] = "3",
                ["DEVICE"] = "cpu",
                ["EXTRA_ARGS"] = "--sampler euler_ancestral --steps 4 --png",
                ["SLURM_ARRAY_TASK_COUNT"] = "3",
                ["SLURM_ARRAY_JOB_ID"] = "4242",
            };
            // Tasks finish in any order.
            foreach (var task in new[] { 2, 0, 1 })
            {
                var (code, output) = RunProcess("/bin/bash", [Deploy("slurm/dk-array.sbatch")], new(env) { ["SLURM_ARRAY_TASK_ID"] = $"{task}" }, TimeSpan.FromSeconds(180));
                Assert.That(code, Is.Zero, $"task {task}: {output}");
            }
            var (mergeCode, mergeOutput) = RunProcess("/bin/bash", [Deploy("slurm/dk-merge.sbatch")], env, TimeSpan.FromSeconds(180));
            Assert.That(mergeCode, Is.Zero, mergeOutput);

            var calls = File.ReadAllLines(log);
            Assert.That(calls, Has.Length.EqualTo(4));
            Assert.That(calls.Take(3).All(c => c.Contains("--shard auto/3", StringComparison.Ordinal) && c.Contains("--resume", StringComparison.Ordinal)), string.Join('\n', calls));
            Assert.That(calls[0], Does.StartWith("task=2 ").And.Contain("dataset/shard-2"));
            Assert.That(DatasetManifest.Load(Path.Combine(dir, "dataset/shard-2")).Shard!.ToString(), Is.EqualTo("2/3"), "dk took the shard index from SLURM_ARRAY_TASK_ID");

            var (single, _, err) = CliRunner.Run(DatasetFolders.SampleArgs(Path.Combine(dir, "gmm.json"), Path.Combine(dir, "single"), 11, "--chunk-size", "2", "--png"));
            Assert.That(single, Is.Zero, err);
            Assert.That(DatasetFolders.Difference(Path.Combine(dir, "single"), Path.Combine(dir, "dataset/merged")), Is.Null, "the array's merged shards equal one run");

            // A requeued task (same index, --resume) finds its shard complete and leaves it as it is.
            var before = DatasetFolders.Files(Path.Combine(dir, "dataset/shard-1"));
            var (again, againOutput) = RunProcess("/bin/bash", [Deploy("slurm/dk-array.sbatch")], new(env) { ["SLURM_ARRAY_TASK_ID"] = "1" }, TimeSpan.FromSeconds(180));
            Assert.That(again, Is.Zero, againOutput);
            Assert.That(DatasetFolders.Files(Path.Combine(dir, "dataset/shard-1")), Is.EqualTo(before));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void TheSlurmScriptRefusesToRunOutsideAnArray()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/bin/bash")) Assert.Ignore("the Slurm scripts are bash scripts for Linux clusters");
        var env = new Dictionary<string, string> { ["DK"] = "false", ["SLURM_ARRAY_TASK_ID"] = "", ["SLURM_ARRAY_TASK_COUNT"] = "" };
        var (code, output) = RunProcess("/bin/bash", [Deploy("slurm/dk-array.sbatch")], env, TimeSpan.FromSeconds(30));
        Assert.That(code, Is.Not.Zero);
        Assert.That(output, Does.Contain("job array"));
    }

    /// <summary>Runs a program; the exit code (null when it cannot be started) and its stdout and stderr together.</summary>
    private static (int? Code, string Output) RunProcess(string program, string[] args, Dictionary<string, string>? env, TimeSpan limit)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? []) info.Environment[k] = v;
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (null, "");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} did not end within {limit.TotalSeconds} s");
            }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
