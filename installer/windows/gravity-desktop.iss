; Inno Setup script for GRAVITY Desktop on Windows (Inno Setup 6.3 or newer).
;
; Wraps the PyInstaller bundle that installer\gravity-desktop.spec builds into
; installer\dist\gravity-desktop\ (installer\windows\build.ps1 runs both steps):
;   iscc /DAppVersion=0.1.0 installer\windows\gravity-desktop.iss
; Output: installer\dist\GRAVITY-Desktop-<version>-setup.exe
;
; Installs per user by default (no administrator rights; {autopf} becomes
; %LOCALAPPDATA%\Programs). The reader's data stays in %LOCALAPPDATA%\gravity-desktop, where
; platformdirs puts it; the uninstaller leaves it there unless the reader says yes when asked
; (or passes /DELETEUSERDATA to a silent uninstall).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "GRAVITY Desktop"
#define AppExe "gravity-desktop.exe"
#define DataDirName "gravity-desktop"

[Setup]
AppId={{E2C52427-59BB-4BC8-B986-D7E634DF9BE7}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=GRAVITY Desktop contributors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist
OutputBaseFilename=GRAVITY-Desktop-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\gravity-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole one-folder bundle: gravity-desktop.exe (the app), gravity.exe (the command line) and
; _internal\ (Python, Qt, llama.cpp, the bundled model, resources).
Source: "..\dist\gravity-desktop\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "..\..\resources\icons\gravity-desktop.ico"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; IconFilename: "{app}\gravity-desktop.ico"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; IconFilename: "{app}\gravity-desktop.ico"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
// The reader's data (profile, books, preference pairs, adapters, downloaded models, the training
// pack) lives outside {app}, in the folder platformdirs chooses. Removing the program never
// touches it unless the reader agrees here; the default answer is No.
function UserDataDir(): String;
begin
  Result := ExpandConstant('{localappdata}\{#DataDirName}');
end;

function DeleteUserDataRequested(): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if CompareText(ParamStr(I), '/DELETEUSERDATA') = 0 then
      Result := True;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Folder: String;
begin
  if CurUninstallStep <> usPostUninstall then
    Exit;
  Folder := UserDataDir();
  if not DirExists(Folder) then
    Exit;
  if DeleteUserDataRequested() or ((not UninstallSilent()) and
     (MsgBox('Also delete your GRAVITY Desktop data?' + #13#10 + #13#10 +
             'Your profile, library, preference pairs, personalized adapters, downloaded models' +
             ' and the training pack are in:' + #13#10 + Folder + #13#10 + #13#10 +
             'Choose No to keep them for a later installation.',
             mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES)) then
    DelTree(Folder, True, True, True);
end;
