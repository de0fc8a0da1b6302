# Build GRAVITY Desktop for Windows: the PyInstaller bundle, then the Inno Setup installer.
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 [-Pack]
#
# Needs: Python 3.11 (the `py` launcher), Inno Setup 6 (iscc.exe on PATH or in its default
# folder), and either Visual Studio Build Tools with CMake (llama-cpp-python compiles from
# source) or a prebuilt llama-cpp-python wheel in PIP_FIND_LINKS. -Pack also builds the training
# pack archive (installer\dist\gravity-training-pack-<version>-windows-amd64.zip).
# Outputs: installer\dist\gravity-desktop\ and installer\dist\GRAVITY-Desktop-<version>-setup.exe
param([switch]$Pack)
$ErrorActionPreference = "Stop"

$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
$Build = "$Root\installer\build"
$Dist = "$Root\installer\dist"
$Venv = "$Build\venv"
$PyInstallerVersion = "6.22.3"
New-Item -ItemType Directory -Force -Path $Build | Out-Null

function Requirements([string[]]$Extras) {
    $script = "import sys, tomllib; p = tomllib.load(open(sys.argv[1], 'rb'))['project']; " +
              "print('\n'.join(p['dependencies'] + [d for e in sys.argv[2:] for d in p['optional-dependencies'][e]]))"
    & py -3.11 -c $script "$Root\pyproject.toml" @Extras
}

$start = Get-Date
if (-not (Test-Path "$Venv\Scripts\python.exe")) { & py -3.11 -m venv $Venv }
Requirements @() | Set-Content -Encoding utf8 "$Build\base-requirements.txt"
& "$Venv\Scripts\python.exe" -m pip install --quiet -r "$Build\base-requirements.txt" "pyinstaller==$PyInstallerVersion"
if ($LASTEXITCODE -ne 0) { throw "pip install failed" }
& "$Venv\Scripts\python.exe" -c "import torch" 2>$null
if ($LASTEXITCODE -eq 0) { throw "torch is importable in $Venv; the app bundle must not carry the training stack" }

& "$Venv\Scripts\pyinstaller.exe" --noconfirm --log-level WARN --distpath $Dist `
    --workpath "$Build\pyinstaller" "$Root\installer\gravity-desktop.spec"
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

$Version = & "$Venv\Scripts\python.exe" -c "import sys; sys.path.insert(0, r'$Root'); from gravity_desktop import __version__; print(__version__)"
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $Iscc "/DAppVersion=$Version" "$Root\installer\windows\gravity-desktop.iss"
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }

if ($Pack) {
    $PackVenv = "$Build\pack-venv"
    if (-not (Test-Path "$PackVenv\Scripts\python.exe")) { & py -3.11 -m venv $PackVenv }
    Requirements @("train") | Set-Content -Encoding utf8 "$Build\pack-requirements.txt"
    # The CPU build of torch; a CUDA pack uses https://download.pytorch.org/whl/cu128 instead.
    & "$PackVenv\Scripts\python.exe" -m pip install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    & "$PackVenv\Scripts\python.exe" -m pip install --quiet -r "$Build\pack-requirements.txt" "pyinstaller==$PyInstallerVersion"
    if ($LASTEXITCODE -ne 0) { throw "pip install (pack) failed" }
    $Stage = "$Dist\pack"
    if (Test-Path $Stage) { Remove-Item -Recurse -Force $Stage }
    & "$PackVenv\Scripts\pyinstaller.exe" --noconfirm --log-level WARN --distpath $Stage `
        --workpath "$Build\pack" "$Root\installer\training-pack.spec"
    if ($LASTEXITCODE -ne 0) { throw "PyInstaller (pack) failed" }
    $Build = & "$PackVenv\Scripts\python.exe" -c "import sys; from pathlib import Path; sys.path.insert(0, r'$Root'); from gravity_desktop.packs import source_digest; print(source_digest(Path(r'$Root')))"
    $Manifest = @{ name = "gravity-training-pack"; version = "$Version"; platform = "windows-amd64";
                   build = "$Build"; executable = "gravity-worker/gravity-worker.exe" }
    $Manifest | ConvertTo-Json | Set-Content -Encoding utf8 "$Stage\pack.json"
    Compress-Archive -Force -Path "$Stage\pack.json", "$Stage\gravity-worker" `
        -DestinationPath "$Dist\gravity-training-pack-$Version-windows-amd64.zip"
}
$minutes = [math]::Round(((Get-Date) - $start).TotalMinutes, 1)
Write-Host "built in $minutes min: $Dist\GRAVITY-Desktop-$Version-setup.exe"
