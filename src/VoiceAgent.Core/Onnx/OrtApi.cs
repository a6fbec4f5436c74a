using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VoiceAgent.Core.Onnx;

/// <summary>
/// The subset of the <c>OrtApi</c> function table this binding calls, read once by slot index
/// (indices verified against ORT 1.30.0; see the shared C API reference). Every handle is <c>nint</c>,
/// <c>size_t</c> is <c>nuint</c>, C enums are <c>int</c>, strings are NUL-terminated UTF-8 <c>byte*</c>;
/// entries that return <c>nint</c> return an <c>OrtStatus*</c> (0 = success) that <see cref="Check"/> consumes.
/// </summary>
internal sealed unsafe class OrtApi
{
    internal readonly delegate* unmanaged<nint, int> GetErrorCode;
    internal readonly delegate* unmanaged<nint, byte*> GetErrorMessage;
    internal readonly delegate* unmanaged<int, byte*, nint*, nint> CreateEnv;
    internal readonly delegate* unmanaged<nint, nint> DisableTelemetryEvents;
    internal readonly delegate* unmanaged<nint, byte*, nint, nint*, nint> CreateSession;
    internal readonly delegate* unmanaged<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray;
    internal readonly delegate* unmanaged<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint> Run;
    internal readonly delegate* unmanaged<nint*, nint> CreateSessionOptions;
    internal readonly delegate* unmanaged<nint, int, nint> SetSessionExecutionMode;
    internal readonly delegate* unmanaged<nint, nint> EnableMemPattern;
    internal readonly delegate* unmanaged<nint, nint> DisableMemPattern;
    internal readonly delegate* unmanaged<nint, nint> EnableCpuMemArena;
    internal readonly delegate* unmanaged<nint, nint> DisableCpuMemArena;
    internal readonly delegate* unmanaged<nint, int, nint> SetSessionLogSeverityLevel;
    internal readonly delegate* unmanaged<nint, int, nint> SetSessionGraphOptimizationLevel;
    internal readonly delegate* unmanaged<nint, int, nint> SetIntraOpNumThreads;
    internal readonly delegate* unmanaged<nint, int, nint> SetInterOpNumThreads;
    internal readonly delegate* unmanaged<nint, nuint*, nint> SessionGetInputCount;
    internal readonly delegate* unmanaged<nint, nuint*, nint> SessionGetOutputCount;
    internal readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    internal readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    internal readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetInputName;
    internal readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetOutputName;
    internal readonly delegate* unmanaged<nint*, nint> CreateRunOptions;
    internal readonly delegate* unmanaged<nint, nint> RunOptionsSetTerminate;
    internal readonly delegate* unmanaged<nint, nint> RunOptionsUnsetTerminate;
    internal readonly delegate* unmanaged<nint, long*, nuint, int, nint*, nint> CreateTensorAsOrtValue;
    internal readonly delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint> CreateTensorWithDataAsOrtValue;
    internal readonly delegate* unmanaged<nint, int*, nint> IsTensor;
    internal readonly delegate* unmanaged<nint, void**, nint> GetTensorMutableData;
    internal readonly delegate* unmanaged<nint, nint*, nint> CastTypeInfoToTensorInfo;
    internal readonly delegate* unmanaged<nint, int*, nint> GetTensorElementType;
    internal readonly delegate* unmanaged<nint, nuint*, nint> GetDimensionsCount;
    internal readonly delegate* unmanaged<nint, long*, nuint, nint> GetDimensions;
    internal readonly delegate* unmanaged<nint, byte**, nuint, nint> GetSymbolicDimensions;
    internal readonly delegate* unmanaged<nint, nint*, nint> GetTensorTypeAndShape;
    internal readonly delegate* unmanaged<int, int, nint*, nint> CreateCpuMemoryInfo;
    internal readonly delegate* unmanaged<nint, void*, nint> AllocatorFree;
    internal readonly delegate* unmanaged<nint*, nint> GetAllocatorWithDefaultOptions;
    internal readonly delegate* unmanaged<nint, void> ReleaseEnv;
    internal readonly delegate* unmanaged<nint, void> ReleaseStatus;
    internal readonly delegate* unmanaged<nint, void> ReleaseMemoryInfo;
    internal readonly delegate* unmanaged<nint, void> ReleaseSession;
    internal readonly delegate* unmanaged<nint, void> ReleaseValue;
    internal readonly delegate* unmanaged<nint, void> ReleaseRunOptions;
    internal readonly delegate* unmanaged<nint, void> ReleaseTypeInfo;
    internal readonly delegate* unmanaged<nint, void> ReleaseTensorTypeAndShapeInfo;
    internal readonly delegate* unmanaged<nint, void> ReleaseSessionOptions;
    internal readonly delegate* unmanaged<nint, byte*, long, nint> AddFreeDimensionOverrideByName;
    internal readonly delegate* unmanaged<byte***, int*, nint> GetAvailableProviders;
    internal readonly delegate* unmanaged<byte**, int, nint> ReleaseAvailableProviders;
    internal readonly delegate* unmanaged<nint, byte*, byte*, nint> AddSessionConfigEntry;
    internal readonly delegate* unmanaged<nint, nint, nint, nint> RunWithBinding;
    internal readonly delegate* unmanaged<nint, nint*, nint> CreateIoBinding;
    internal readonly delegate* unmanaged<nint, void> ReleaseIoBinding;
    internal readonly delegate* unmanaged<nint, byte*, nint, nint> BindInput;
    internal readonly delegate* unmanaged<nint, byte*, nint, nint> BindOutput;
    internal readonly delegate* unmanaged<nint, byte*, nint, nint> BindOutputToDevice;
    internal readonly delegate* unmanaged<nint, nint, nint**, nuint*, nint> GetBoundOutputValues;
    internal readonly delegate* unmanaged<nint, void> ClearBoundInputs;
    internal readonly delegate* unmanaged<nint, void> ClearBoundOutputs;
    internal readonly delegate* unmanaged<nint, nint, nint> SessionOptionsAppendExecutionProviderCudaV2;
    internal readonly delegate* unmanaged<nint*, nint> CreateCudaProviderOptions;
    internal readonly delegate* unmanaged<nint, byte**, byte**, nuint, nint> UpdateCudaProviderOptions;
    internal readonly delegate* unmanaged<nint, void> ReleaseCudaProviderOptions;

    internal OrtApi(nint* api)
    {
        GetErrorCode = (delegate* unmanaged<nint, int>)api[1];
        GetErrorMessage = (delegate* unmanaged<nint, byte*>)api[2];
        CreateEnv = (delegate* unmanaged<int, byte*, nint*, nint>)api[3];
        DisableTelemetryEvents = (delegate* unmanaged<nint, nint>)api[6];
        CreateSession = (delegate* unmanaged<nint, byte*, nint, nint*, nint>)api[7];
        CreateSessionFromArray = (delegate* unmanaged<nint, void*, nuint, nint, nint*, nint>)api[8];
        Run = (delegate* unmanaged<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint>)api[9];
        CreateSessionOptions = (delegate* unmanaged<nint*, nint>)api[10];
        SetSessionExecutionMode = (delegate* unmanaged<nint, int, nint>)api[13];
        EnableMemPattern = (delegate* unmanaged<nint, nint>)api[16];
        DisableMemPattern = (delegate* unmanaged<nint, nint>)api[17];
        EnableCpuMemArena = (delegate* unmanaged<nint, nint>)api[18];
        DisableCpuMemArena = (delegate* unmanaged<nint, nint>)api[19];
        SetSessionLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)api[22];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<nint, int, nint>)api[23];
        SetIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)api[24];
        SetInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)api[25];
        SessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)api[30];
        SessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)api[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)api[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)api[34];
        SessionGetInputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)api[36];
        SessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)api[37];
        CreateRunOptions = (delegate* unmanaged<nint*, nint>)api[39];
        RunOptionsSetTerminate = (delegate* unmanaged<nint, nint>)api[46];
        RunOptionsUnsetTerminate = (delegate* unmanaged<nint, nint>)api[47];
        CreateTensorAsOrtValue = (delegate* unmanaged<nint, long*, nuint, int, nint*, nint>)api[48];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)api[49];
        IsTensor = (delegate* unmanaged<nint, int*, nint>)api[50];
        GetTensorMutableData = (delegate* unmanaged<nint, void**, nint>)api[51];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)api[55];
        GetTensorElementType = (delegate* unmanaged<nint, int*, nint>)api[60];
        GetDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)api[61];
        GetDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)api[62];
        GetSymbolicDimensions = (delegate* unmanaged<nint, byte**, nuint, nint>)api[63];
        GetTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)api[65];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)api[69];
        AllocatorFree = (delegate* unmanaged<nint, void*, nint>)api[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)api[78];
        ReleaseEnv = (delegate* unmanaged<nint, void>)api[92];
        ReleaseStatus = (delegate* unmanaged<nint, void>)api[93];
        ReleaseMemoryInfo = (delegate* unmanaged<nint, void>)api[94];
        ReleaseSession = (delegate* unmanaged<nint, void>)api[95];
        ReleaseValue = (delegate* unmanaged<nint, void>)api[96];
        ReleaseRunOptions = (delegate* unmanaged<nint, void>)api[97];
        ReleaseTypeInfo = (delegate* unmanaged<nint, void>)api[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)api[99];
        ReleaseSessionOptions = (delegate* unmanaged<nint, void>)api[100];
        AddFreeDimensionOverrideByName = (delegate* unmanaged<nint, byte*, long, nint>)api[124];
        GetAvailableProviders = (delegate* unmanaged<byte***, int*, nint>)api[125];
        ReleaseAvailableProviders = (delegate* unmanaged<byte**, int, nint>)api[126];
        AddSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)api[130];
        RunWithBinding = (delegate* unmanaged<nint, nint, nint, nint>)api[133];
        CreateIoBinding = (delegate* unmanaged<nint, nint*, nint>)api[134];
        ReleaseIoBinding = (delegate* unmanaged<nint, void>)api[135];
        BindInput = (delegate* unmanaged<nint, byte*, nint, nint>)api[136];
        BindOutput = (delegate* unmanaged<nint, byte*, nint, nint>)api[137];
        BindOutputToDevice = (delegate* unmanaged<nint, byte*, nint, nint>)api[138];
        GetBoundOutputValues = (delegate* unmanaged<nint, nint, nint**, nuint*, nint>)api[140];
        ClearBoundInputs = (delegate* unmanaged<nint, void>)api[141];
        ClearBoundOutputs = (delegate* unmanaged<nint, void>)api[142];
        SessionOptionsAppendExecutionProviderCudaV2 = (delegate* unmanaged<nint, nint, nint>)api[204];
        CreateCudaProviderOptions = (delegate* unmanaged<nint*, nint>)api[205];
        UpdateCudaProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)api[206];
        ReleaseCudaProviderOptions = (delegate* unmanaged<nint, void>)api[208];
    }

    /// <summary>Throws <see cref="OrtException"/> when <paramref name="status"/> is an error; the success path stays inlined and branch-only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Check(nint status)
    {
        if (status != 0)
        {
            ThrowFromStatus(status);
        }
    }

    /// <summary>Converts a status to an exception, releasing the status (its message dies with it, so it is copied first).</summary>
    internal OrtException ToException(nint status)
    {
        try
        {
            var code = (OrtErrorCode)GetErrorCode(status);
            var message = Marshal.PtrToStringUTF8((nint)GetErrorMessage(status)) ?? string.Empty;
            return new OrtException(code, message);
        }
        finally
        {
            ReleaseStatus(status);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowFromStatus(nint status) => throw ToException(status);
}
